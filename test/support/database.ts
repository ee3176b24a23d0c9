// Every test file gets its own freshly migrated database. PGlite (default): a copy of one migrated
// template, made once per `bun test` run, because initdb costs ~3 s and a copy ~0.3 s. PostgreSQL
// (TEST_DATABASE_URL set): a new database per file, dropped afterwards, so files and concurrent
// runs never see each other's rows.
import { SQL, type TransactionSQL } from "bun";
import { type SQL as Query, sql } from "drizzle-orm";
import { type Database, type DatabaseHandle, openEmbedded, openPostgres } from "../../src/db/client.ts";
import { RECOUNT_SQL } from "../../src/modules/tasks/counts.ts";
import { directUrl, pooler, postgresUrl } from "./target.ts";

const state = globalThis as { pgliteTemplate?: Promise<Blob> };

function pgliteTemplate(): Promise<Blob> {
  state.pgliteTemplate ??= (async () => {
    const database = await openEmbedded({ url: "memory://", dataDir: "" });
    await database.migrate();
    const dump = await database.client.dumpDataDir("none");
    await database.close();
    return dump;
  })();
  return state.pgliteTemplate;
}

export type TestDatabase = DatabaseHandle & {
  /** The connection string of this file's own PostgreSQL database, when on PostgreSQL. */
  url?: string;
  /** On PostgreSQL: what a process of the service needs to reach this database (pooler included). */
  env?: Record<string, string>;
};

/**
 * A fresh database of the driver under test, migrated unless `migrated: false` (for tests of how
 * migrations are applied: on PGlite a new empty database, which costs an initdb).
 */
export async function freshDatabase({ migrated = true } = {}): Promise<TestDatabase> {
  if (!postgresUrl) {
    const template = migrated ? await pgliteTemplate() : undefined;
    return openEmbedded({ url: "memory://", dataDir: "", pgliteTemplate: template });
  }
  const name = `todo_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const adminUrl = directUrl ?? postgresUrl;
  const admin = new SQL({ url: adminUrl, max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.close();
  const named = (base: string) => Object.assign(new URL(base), { pathname: `/${name}` }).href;
  const url = named(postgresUrl);
  const direct = directUrl && named(directUrl);
  const database = openPostgres(url, 10, { directUrl: direct, pooler });
  if (migrated) await database.migrate();
  return {
    ...database,
    url,
    env: { DATABASE_URL: url, ...(direct && { DATABASE_DIRECT_URL: direct, DATABASE_POOLER: pooler }) },
    close: async () => {
      await database.close();
      const admin = new SQL({ url: adminUrl, max: 1 });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.close();
    },
  };
}

/** The rows of a raw statement: Bun.SQL answers an array of them, PGlite an object holding them. */
export async function queryRows<T>(db: Database, query: Query): Promise<T[]> {
  const result = await db.execute(query);
  return (Array.isArray(result) ? result : (result as unknown as { rows: T[] }).rows) as T[];
}

/** Tasks inserted around the service are not in their users' counts, which lists read: counts them. */
export async function recountTasks(db: Database): Promise<void> {
  await db.execute(sql.raw(RECOUNT_SQL));
}

/**
 * A connection of a test's own, outside the service's pool, that holds locks while a request waits
 * on them (as the service reaches the database: through the pooler in the pooled run, hence
 * unnamed statements).
 */
export function lockHolder(url: string): SQL {
  return new SQL({ url, max: 1, prepare: false });
}

/** Resolves once some backend waits for a lock (a request is blocked on the holder's); asked inside the holder's transaction. */
export async function someoneWaits(holder: TransactionSQL): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 20) {
    const [row] = await holder`select count(*)::int as n from pg_locks where not granted`;
    if (row.n > 0) return;
    await Bun.sleep(20);
  }
  throw new Error("no request waited for the lock");
}
