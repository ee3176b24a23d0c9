// Runs at bundle time as a Bun macro (imported `with { type: "macro" }`): the SQL files of
// drizzle/ are read once and inlined into the code, so the compiled binary carries its
// migrations and needs no folder beside it. Drizzle's own migrator only reads from disk.
import { type MigrationMeta, readMigrationFiles } from "drizzle-orm/migrator";

export function migrationFiles(): MigrationMeta[] {
  return readMigrationFiles({ migrationsFolder: `${import.meta.dir}/../../drizzle` });
}
