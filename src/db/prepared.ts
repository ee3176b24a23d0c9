// Queries built once per database and shape, then run with new parameters only.
//
// Drizzle builds a query's SQL text from its builder on every call, and that cost more CPU than
// the rest of a request: 117 µs to build getTask's SELECT, 256 µs a list page's, where the whole
// request of a minimal Bun server costs ~55 µs (bench/). So each query shape is built once per
// database, with placeholders (`sql.placeholder`), and only its parameters change per call.
//
// Relies on two things of drizzle-orm 0.45 that its types do not show, hence the casts below:
// - its prepared queries (PgPreparedQuery of the bun-sql and pglite sessions) have an `all(values)`
//   that runs the query and returns the driver's rows without drizzle's per-column mapping;
// - a PgDatabase holds `dialect.sqlToQuery(sql)` and `session.prepareQuery(query, fields, name,
//   arrayMode)`, which its own execute() uses; preparedSql() calls them to prepare hand-written SQL.
// test/tasks*.test.ts and test/sync-*.test.ts run every query through them on both drivers, so a
// drizzle upgrade that changes either fails there.
import type { SQL } from "drizzle-orm";
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

interface Internals {
  dialect: { sqlToQuery(query: SQL): unknown };
  session: { prepareQuery(query: unknown, fields: undefined, name: string, arrayMode: boolean): object };
}

/** A prepared query of hand-written SQL (statements drizzle's builder cannot express); run it with rows(). */
export function preparedSql(db: Database, name: string, query: SQL): object {
  const { dialect, session } = db as unknown as Internals;
  return session.prepareQuery(dialect.sqlToQuery(query), undefined, name, false);
}
