// Queries built once per database and shape, then run with new parameters only.
//
// Drizzle builds a query's SQL text from its builder on every call, and that cost more CPU than
// the rest of a request: 117 µs to build getTask's SELECT, 256 µs a list page's, where the whole
// request of a minimal Bun server costs ~55 µs (bench/). So each query shape is built once per
// database, with placeholders (`sql.placeholder`), and only its parameters change per call.
//
// Relies on drizzle-orm 0.45's prepared queries (PgPreparedQuery of the bun-sql and pglite
// sessions) having an `all(values)` method that runs the query and returns the driver's rows
// without drizzle's per-column mapping. It is public at runtime but absent from the types, which
// only list execute(): hence the one cast below. test/tasks*.test.ts run every query through it on
// both drivers, so a drizzle upgrade that drops it fails there.
import type { Database } from "./client.ts";

/**
 * A cache of queries made by `build` for each database and each typed `key`; `id` turns a key into
 * the cache's string (two keys with the same id must build the same query).
 */
export function preparedFor<Key, Query>(
  build: (db: Database, key: Key) => Query,
  id: (key: Key) => string = String,
): (db: Database, key: Key) => Query {
  const byDatabase = new WeakMap<Database, Map<string, Query>>();
  return (db, key) => {
    let queries = byDatabase.get(db);
    if (!queries) {
      queries = new Map();
      byDatabase.set(db, queries);
    }
    const name = id(key);
    let query = queries.get(name);
    if (!query) {
      query = build(db, key);
      queries.set(name, query);
    }
    return query;
  };
}

/** Runs a prepared query and returns its rows exactly as the driver gives them. */
export function rows<Row>(query: object, values: Record<string, unknown>): Promise<Row[]> {
  return (query as { all(values: Record<string, unknown>): Promise<Row[]> }).all(values);
}
