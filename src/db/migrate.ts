// Applies drizzle/ in-process at start. Drizzle's migrator takes no lock (drizzle-orm #874), so
// on PostgreSQL it runs on one dedicated connection holding an advisory lock: processes started
// together wait for each other and the migrations are applied exactly once.
import { SQL } from "bun";
import { drizzle as drizzleBunSql } from "drizzle-orm/bun-sql";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { Database } from "./client.ts";
import { migrationFiles } from "./migration-files.ts" with { type: "macro" };

const migrations: MigrationMeta[] = migrationFiles();

// Any constant shared by every process of this service; "todo-api" as a 64-bit number.
const MIGRATION_LOCK_ID = 0x746f646f2d617069n;

interface Migrator {
  migrate(migrations: MigrationMeta[], session: unknown, config: object): Promise<void>;
}

async function apply(db: Database): Promise<void> {
  // The public `migrate()` helpers only differ in how they read the folder; this is their body.
  const internals = db as unknown as { dialect: Migrator; session: unknown };
  await internals.dialect.migrate(migrations, internals.session, {});
}

/** Migrates embedded PGlite (one process owns its data dir, so no lock is needed). */
export const migratePglite = apply;

/** Migrates PostgreSQL at `url` under a session-level advisory lock. */
export async function migratePostgres(url: string): Promise<void> {
  // max: 1 so the lock, the migrations and the unlock all run on the same connection.
  const client = new SQL({ url, max: 1, connectionTimeout: 10 });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    try {
      await apply(drizzleBunSql({ client }) as unknown as Database);
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    }
  } finally {
    await client.close();
  }
}
