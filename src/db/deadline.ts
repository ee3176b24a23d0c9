// The contract answers 503 within 5 s when the database is gone: a query (waiting for a pool
// connection and connecting included) gets 3 s on the client (replaceable-pool.ts), and the server
// drops work we stopped waiting for after as long (its statement_timeout, set by migratePostgres).
// The 2 s left cover a loaded event loop: at 4 s, 21 requests at once on a busy machine took 4.6 s.
export const QUERY_DEADLINE_MS = 3000;
