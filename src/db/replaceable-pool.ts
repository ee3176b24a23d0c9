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

interface ReplaceablePool {
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

  /**
   * Rejects `deadlineMs` from now, replacing `pool` then; `clear()` once the work is done, which
   * also tells the pool's metrics the connection is back.
   */
  const deadlineOf = (pool: SQL) => {
    const settled = metrics.poolQueryStarted();
    let timer: Timer | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        metrics.queryDeadlineExceeded();
        replace(pool);
        reject(new DatabaseTimeoutError(deadlineMs));
      }, deadlineMs);
    });
    expired.catch(() => {}); // a transaction's deadline may pass with none of its queries waiting
    return {
      expired,
      clear: () => {
        clearTimeout(timer);
        settled();
      },
    };
  };

  type Within = <T>(work: PromiseLike<T>) => Promise<T>;

  /** Its own deadline for each piece of work on `pool`, which holds a connection of it meanwhile. */
  const eachWithin =
    (pool: SQL): Within =>
    (work) => {
      const deadline = deadlineOf(pool);
      return Promise.race([work, deadline.expired]).finally(deadline.clear);
    };

  const query = (on: Pick<SQL, "unsafe">, within: Within, text: string, params?: unknown[]) => {
    // Bun's queries are lazy: nothing is sent until then() or values() picks the result shape.
    const pending = on.unsafe(text, params);
    return {
      // biome-ignore lint/suspicious/noThenProperty: drizzle awaits the query it is given, so this must be a thenable
      then: ((onFulfilled, onRejected) =>
        within(tracing.sql(text, pending)).then(onFulfilled, onRejected)) as PromiseLike<unknown>["then"],
      values: () => within(tracing.sql(text, pending.values())),
    };
  };

  const client: DrizzleClient = {
    unsafe(text, params) {
      const pool = current;
      return query(pool, eachWithin(pool), text, params);
    },
    // One deadline for the whole transaction, its queries included: a query waiting on a lock
    // gives up when the transaction's time is up, so the request answers 503 in time; the
    // transaction is then rolled back or dies with its connection, and commits after that answer
    // only if its COMMIT had already been sent. drizzle calls only unsafe() on a transaction's client.
    begin(fn) {
      const pool = current;
      const deadline = deadlineOf(pool);
      const within: Within = (work) => Promise.race([work, deadline.expired]);
      const work = pool.begin((tx) =>
        fn({ unsafe: (text: string, params?: unknown[]) => query(tx, within, text, params) } as never),
      );
      return within(work).finally(deadline.clear);
    },
  };

  return { client, close: (options) => current.close(options) };
}
