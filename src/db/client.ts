// One typed `db` over either PostgreSQL (Bun's built-in SQL pool) or embedded PGlite.
// Nothing above src/db/ knows which one it got.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBunSql } from "drizzle-orm/bun-sql";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migratePglite, migratePostgres } from "./migrate.ts";
import { replaceablePool } from "./outage.ts";
import { pgliteAssets } from "./pglite-assets.ts";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  kind: "postgres" | "pglite";
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Applies the migrations of drizzle/ that this database has not seen yet. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… for PostgreSQL, memory:// for an in-memory PGlite, unset for PGlite on disk. */
  url?: string;
  dataDir: string;
  poolMax: number;
  /** A dump of a migrated PGlite (from `dumpDataDir()`), so tests skip initdb and migrations. */
  pgliteTemplate?: Blob;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url && !options.url.startsWith("memory:")) return openPostgres(options.url, options.poolMax);
  const dataDir = options.url ? undefined : resolve(options.dataDir);
  if (dataDir) mkdirSync(dirname(dataDir), { recursive: true });
  return openPglite(await PGlite.create({ dataDir, loadDataDir: options.pgliteTemplate, ...(await pgliteAssets()) }));
}

// The contract answers 503 within 5 s when the database is gone: a query (waiting for a pool
// connection and connecting included) gets 3 s, and the server drops work we stopped waiting for.
// The 2 s left cover a loaded event loop: at 4 s, 21 requests at once on a busy machine took 4.6 s.
const QUERY_DEADLINE_MS = 3000;
const CONNECT_TIMEOUT_S = 2;

export function openPostgres(url: string, poolMax: number): DatabaseHandle {
  const pool = replaceablePool(
    () =>
      new SQL({
        url,
        max: poolMax,
        connectionTimeout: CONNECT_TIMEOUT_S,
        idleTimeout: 60,
        connection: { statement_timeout: QUERY_DEADLINE_MS },
      }),
    QUERY_DEADLINE_MS,
  );
  // drizzle-orm/bun-sql calls only unsafe() and begin() on its client, which the pool provides.
  const db = drizzleBunSql({ client: pool.client as unknown as SQL, schema }) as unknown as Database;
  return {
    db,
    kind: "postgres",
    migrate: () => migratePostgres(url),
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
