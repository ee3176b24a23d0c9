// Applies drizzle/ in-process at start. Drizzle's migrator takes no lock (drizzle-orm #874), so
// on PostgreSQL it runs on one dedicated connection holding an advisory lock: processes started
// together wait for each other and the migrations are applied exactly once.
import { SQL } from "bun";
import { drizzle as drizzleBunSql } from "drizzle-orm/bun-sql";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { QUERY_DEADLINE_MS } from "./deadline.ts";
import { migrationFiles } from "./migration-files.ts" with { type: "macro" };

const migrations: MigrationMeta[] = migrationFiles();

// Any constant shared by every process of this service; "todo-api" as a 64-bit number.
const MIGRATION_LOCK_ID = 0x746f646f2d617069n;

interface Migrator {
  migrate(migrations: MigrationMeta[], session: unknown, config: object): Promise<void>;
}

/** Any drizzle database over PostgreSQL or PGlite; the migrations need no schema types. */
type AnyDatabase = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

/**
 * Applies the first `count` migrations of drizzle/ that `db` has not seen (all by default). Fewer
 * only in tests of a migration over rows written before it.
 */
export async function applyMigrations(db: AnyDatabase, count = migrations.length): Promise<void> {
  // The public `migrate()` helpers only differ in how they read the folder; this is their body.
  const internals = db as unknown as { dialect: Migrator; session: unknown };
  await internals.dialect.migrate(migrations.slice(0, count), internals.session, {});
}

/** Migrates embedded PGlite (one process owns its data dir, so no lock is needed). */
export const migratePglite = (db: AnyDatabase) => applyMigrations(db);

/**
 * Migrates PostgreSQL under a session-level advisory lock, so `sessionUrl` must keep a session:
 * straight to PostgreSQL or through a session-mode pooler, never a transaction-mode one, which
 * could take the lock on one server connection and release it (or not) on another.
 *
 * Under the same lock it makes the query deadline this role's `statement_timeout` in this
 * database. That is how every later connection gets its server-side deadline, pooled ones
 * included: a transaction-mode PgBouncer refuses `statement_timeout` as a startup parameter
 * ("unsupported startup parameter") and gives a session `SET` to whichever client gets that server
 * connection next. Only connections opened afterwards see it; the lock keeps concurrent starts
 * from racing on the catalog row ("tuple concurrently updated").
 */
export async function migratePostgres(sessionUrl: string): Promise<void> {
  // max: 1 so the lock, the migrations and the unlock all run on the same connection.
  const client = new SQL({ url: sessionUrl, max: 1, connectionTimeout: 10 });
  try {
    // A migration may take longer than a request's deadline, which this role may already have.
    await client`set statement_timeout = 0`;
    await client`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    try {
      await applyMigrations(drizzleBunSql({ client }));
      await client.unsafe(
        `do $$ begin execute format('alter role %I in database %I set statement_timeout = %s',
          current_user, current_database(), ${QUERY_DEADLINE_MS}); end $$`,
      );
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    }
  } finally {
    await client.close();
  }
}
