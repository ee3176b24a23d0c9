// One typed `db` over either PostgreSQL (Bun's built-in SQL pool) or embedded PGlite.
// Nothing above src/db/ knows which one it got.
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBunSql } from "drizzle-orm/bun-sql";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import type { DatabasePooler } from "../config.ts";
import { holdDataDir } from "./data-dir.ts";
import { QUERY_DEADLINE_MS } from "./deadline.ts";
import { migratePglite, migratePostgres } from "./migrate.ts";
import { pgliteAssets } from "./pglite-assets.ts";
import { replaceablePool } from "./replaceable-pool.ts";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  kind: "postgres" | "pglite";
  /**
   * PostgreSQL only: where to open a connection of one's own that keeps its session, for what a
   * transaction-mode pooler cannot carry (LISTEN, session advisory locks, session SET): the
   * direct URL when one is configured, else the database URL. Open it with `new SQL({ url, max: 1 })`
   * and close it when done; it does not count against the pool.
   */
  sessionUrl?: string;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Applies the migrations of drizzle/ that this database has not seen yet. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

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
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"];

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url && !options.url.startsWith("memory:")) return openPostgres(options.url, options.poolMax, options);
  const pglite = { ...(await pgliteAssets()), startParams: PGLITE_START_PARAMS };
  if (options.url) return openPglite(await PGlite.create({ loadDataDir: options.pgliteTemplate, ...pglite }));
  const dataDir = resolve(options.dataDir);
  const held = holdDataDir(dataDir);
  try {
    const client = await PGlite.create({ dataDir, ...pglite });
    await held.opened();
    const handle = openPglite(client);
    return { ...handle, close: () => handle.close().finally(held.release) };
  } catch (error) {
    held.release();
    throw error;
  }
}

const CONNECT_TIMEOUT_S = 2;

export function openPostgres(
  url: string,
  poolMax: number,
  { directUrl, pooler = "none" }: Pick<DatabaseOptions, "directUrl" | "pooler"> = {},
): DatabaseHandle {
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

export function openPglite(client: PGlite): DatabaseHandle {
  const db = drizzlePglite({ client, schema }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    migrate: () => migratePglite(db),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}
