// A pool of PostgreSQL connections that is replaced by a fresh one when a query misses its deadline:
// how the service answers quickly while PostgreSQL is gone and gets back by itself when it returns.
//
// Bun's SQL pool has a connect timeout but no bound on the wait for a free connection, and a
// query sent to a server that stopped answering waits forever: `query.cancel()` travels over the
// same dead network. So every query runs against a deadline here, and a missed deadline replaces
// the pool. The old pool's connections may be dead for good (a black-holed network or a lost NAT
// entry keeps a socket open without an answer until TCP gives up, some 15 minutes), and a fresh
// pool is the only way to serve again within seconds of the database's return.
import type { SQL, TransactionSQL } from "bun";
import { metrics } from "../observability/metrics.ts";
import { tracing } from "../observability/tracing.ts";
import { DatabaseTimeoutError } from "./outage.ts";

/** The part of Bun's SQL client that drizzle-orm/bun-sql calls. */
interface DrizzleClient {
  unsafe(query: string, params?: unknown[]): PromiseLike<unknown> & { values(): Promise<unknown> };
  begin<T>(fn: (tx: TransactionSQL) => Promise<T>): Promise<T>;
}

export interface ReplaceablePool {
  /** Hand this to drizzle: every query and transaction through it answers within the deadline. */
  client: DrizzleClient;
  close(options: { timeout: number }): Promise<void>;
}

export function replaceablePool(open: () => SQL, deadlineMs: number): ReplaceablePool {
  let current = open();

  const replace = (stale: SQL) => {
    if (stale !== current) return; // another query that missed its deadline already did it
    current = open();
    // Queries still running on the stale pool get their own deadline; then its sockets go.
    stale.close({ timeout: deadlineMs / 1000 }).catch(() => {});
  };

  const withDeadline = <T>(pool: SQL, work: PromiseLike<T>): Promise<T> => {
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        metrics.queryDeadlineExceeded();
        replace(pool);
        reject(new DatabaseTimeoutError(deadlineMs));
      }, deadlineMs);
    });
    return Promise.race([metrics.poolQuery(work), deadline]).finally(() => clearTimeout(timer));
  };

  const client: DrizzleClient = {
    unsafe(query, params) {
      const pool = current;
      // Bun's queries are lazy: nothing is sent until then() or values() picks the result shape.
      const pending = pool.unsafe(query, params);
      return {
        // biome-ignore lint/suspicious/noThenProperty: drizzle awaits the query it is given, so this must be a thenable
        then: (onFulfilled, onRejected) =>
          withDeadline(pool, tracing.sql(query, pending)).then(onFulfilled, onRejected),
        values: () => withDeadline(pool, tracing.sql(query, pending.values())),
      };
    },
    // One deadline for the whole transaction: its queries run on one connection of this pool.
    begin(fn) {
      const pool = current;
      return withDeadline(pool, pool.begin(fn));
    },
  };

  return { client, close: (options) => current.close(options) };
}
