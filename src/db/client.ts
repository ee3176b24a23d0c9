// One typed `db` over either PostgreSQL (Bun's built-in SQL pool) or embedded PGlite.
// Nothing above src/db/ knows which one it got.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBunSql } from "drizzle-orm/bun-sql";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { ConfigError, type DatabasePooler } from "../config.ts";
import { traceStatements } from "../observability/tracing.ts";
import { holdDataDir } from "./data-dir.ts";
import { QUERY_DEADLINE_MS } from "./deadline.ts";
import { migratePglite, migratePostgres } from "./migrate.ts";
import { pgliteAssets, withExtensions } from "./pglite-assets.ts";
import { sharesServerConnections } from "./pooler-probe.ts";
import { replaceablePool } from "./replaceable-pool.ts";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

interface Handle {
  db: Database;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Applies the migrations of drizzle/ that this database has not seen yet. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export interface PostgresHandle extends Handle {
  kind: "postgres";
  /**
   * Where to open a connection of one's own that keeps its session, for what a transaction-mode
   * pooler cannot carry (LISTEN, session advisory locks, session SET): the direct URL when one is
   * configured, else the database URL. Open it with `new SQL({ url, max: 1 })` and close it when
   * done; it does not count against the pool.
   */
  sessionUrl: string;
}

export interface PgliteHandle extends Handle {
  kind: "pglite";
  /** The embedded database itself, for what drizzle does not cover (its own listen, a dump). */
  client: PGlite;
}

/** Either database; what differs between them is reached by narrowing on `kind`. */
export type DatabaseHandle = PostgresHandle | PgliteHandle;

export interface DatabaseOptions {
  /** postgres://… for PostgreSQL, memory:// for an in-memory PGlite, unset for PGlite on disk. */
  url?: string;
  /** PostgreSQL only: DATABASE_DIRECT_URL, for what needs a session (see DatabaseHandle.sessionUrl). */
  directUrl?: string;
  pooler?: DatabasePooler;
  dataDir: string;
  poolMax: number;
  /** A dump of a migrated PGlite (from `dumpDataDir()`), so tests skip initdb and migrations. */
  pgliteTemplate?: Blob;
}

// initdb sizes shared_buffers for a server (128 MB), and in PGlite they live in the process's own
// WebAssembly heap: with them the process held ~285 MB idle and was OOM-killed under a 256 MB
// limit (issue 20). One single-user backend serving one process's requests needs far fewer.
// TimeZone: PGlite's rows carry timestamps as text in the session's zone, which taskOf reads with
// Date; in UTC that text always parses ("+00"), where an old date in another zone can carry a local
// mean time offset with seconds ("-10:29:20") that Date cannot read.
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB", "-c", "TimeZone=UTC"];

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url && !options.url.startsWith("memory:")) {
    if ((options.pooler ?? "none") === "none") await refuseTransactionPooler(options.url);
    return openPostgres(options.url, options.poolMax, options);
  }
  return openEmbedded(options);
}

/** PGlite: in memory for a `memory://` URL, else on disk under `dataDir`, held by this process. */
export async function openEmbedded(
  options: Pick<DatabaseOptions, "url" | "dataDir" | "pgliteTemplate">,
): Promise<PgliteHandle> {
  const assets = { ...(await pgliteAssets()), startParams: PGLITE_START_PARAMS };
  // The extensions' copies go where the database is written: a read-only root filesystem (a
  // container's, Kubernetes' readOnlyRootFilesystem) may have no writable /tmp, but has the data
  // dir, which this process holds.
  const create = (copies: string, where: PGliteOptions) =>
    withExtensions(copies, (extensions) => PGlite.create({ ...where, ...assets, extensions }));
  if (options.url) {
    const copies = await mkdtemp(join(tmpdir(), "todo-api-pglite-"));
    return openPglite(await create(copies, { loadDataDir: options.pgliteTemplate }));
  }
  const dataDir = resolve(options.dataDir);
  const held = holdDataDir(dataDir);
  try {
    const client = await create(join(dataDir, ".pglite-extensions"), { dataDir });
    await held.opened();
    const handle = openPglite(client);
    return { ...handle, close: () => handle.close().finally(held.release) };
  } catch (error) {
    held.release();
    throw error;
  }
}

const CONNECT_TIMEOUT_S = 2;

/**
 * A DATABASE_URL that leads to a transaction-mode pooler while DATABASE_POOLER says none is refused
 * before anything is sent through it (src/db/pooler-probe.ts). A database that cannot be reached now
 * is not refused here: what comes next (migrations, the readiness check) says so.
 */
async function refuseTransactionPooler(url: string): Promise<void> {
  const pooled = await sharesServerConnections(url).catch(() => false);
  if (!pooled) return;
  throw new ConfigError([
    `DATABASE_URL: ${new URL(url).host} hands one server connection to several clients, as a transaction-mode ` +
      "pooler does (PgBouncer's pool_mode = transaction, a hosted pooled URL): set DATABASE_POOLER=transaction, " +
      "and DATABASE_DIRECT_URL to a connection that keeps a session (to PostgreSQL itself or a session-mode pooler)",
  ]);
}

export function openPostgres(
  url: string,
  poolMax: number,
  { directUrl, pooler = "none" }: Pick<DatabaseOptions, "directUrl" | "pooler"> = {},
): PostgresHandle {
  const sessionUrl = directUrl ?? url;
  const pool = replaceablePool(
    () =>
      new SQL({
        url,
        max: poolMax,
        connectionTimeout: CONNECT_TIMEOUT_S,
        idleTimeout: 60,
        // Bun names a prepared statement per query text and connection; a transaction-mode pooler
        // runs the next Bind on another server connection, where that name does not exist.
        // Unnamed statements are parsed with every execution instead (docs/scaling.md: the cost).
        prepare: pooler !== "transaction",
      }),
    QUERY_DEADLINE_MS,
  );
  // drizzle-orm/bun-sql calls only unsafe() and begin() on its client, which the pool provides.
  const db = drizzleBunSql({ client: pool.client as unknown as SQL, schema }) as unknown as Database;
  return {
    db,
    kind: "postgres",
    sessionUrl,
    migrate: () => migratePostgres(sessionUrl),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => pool.close({ timeout: 5 }),
  };
}

function openPglite(client: PGlite): PgliteHandle {
  traceStatements(client);
  const db = drizzlePglite({ client, schema }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    client,
    migrate: () => migratePglite(db),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}
