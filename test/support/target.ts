// What the suite runs against, from the environment of `bun test`: embedded PGlite, or PostgreSQL
// when TEST_DATABASE_URL is set; in process, or the compiled binary when TEST_BINARY is set too.
export const postgresUrl = process.env.TEST_DATABASE_URL || undefined;
// Set by test/with-pgbouncer.ts when TEST_DATABASE_URL is a transaction-mode PgBouncer: PostgreSQL
// itself, where databases are created and dropped and the migrations take their lock.
export const directUrl = process.env.TEST_DATABASE_DIRECT_URL || undefined;
export const pooler = process.env.TEST_DATABASE_POOLER === "transaction" ? "transaction" : "none";
export const driver = postgresUrl ? "postgres" : "pglite";
/** Path of a binary to run the whole suite against; see testApp() in ./app.ts. */
export const testBinary = process.env.TEST_BINARY || undefined;
