// A transaction opened by one hook of a request and ended by another, with the route's queries in
// between: for a write that must commit together with what is decided only after it ran (an
// Idempotency-Key's kept answer, src/modules/idempotency/), so that both commit or neither does.
//
// The route finds the transaction through its request (requestDatabase): the route's code is the
// same with or without one. On PostgreSQL the whole transaction, its queries included, has one
// query deadline (replaceable-pool.ts); on PGlite a transaction holds the database alone, so other
// requests' queries wait for its end.
import type { Database } from "./client.ts";

export interface HeldTransaction {
  /** Queries through it run in the transaction. */
  db: Database;
  /** Commits; rejects when the commit failed or missed its deadline (it may still have happened). */
  commit(): Promise<void>;
  /** Rolls back; never rejects (a transaction that fails to roll back has committed nothing either). */
  rollback(): Promise<void>;
}

const ROLLBACK = new Error("rolled back by its holder");

export async function holdTransaction(db: Database): Promise<HeldTransaction> {
  const opened = Promise.withResolvers<Database>();
  const decided = Promise.withResolvers<boolean>();
  const ended = db.transaction(async (tx) => {
    opened.resolve(tx as unknown as Database);
    if (!(await decided.promise)) throw ROLLBACK;
  });
  // A transaction that could not begin is reported to the opener; later failures to whoever ends it.
  ended.catch(opened.reject);
  return {
    db: await opened.promise,
    commit: () => {
      decided.resolve(true);
      return ended;
    },
    rollback: async () => {
      decided.resolve(false);
      await ended.catch(() => {});
    },
  };
}

const byRequest = new WeakMap<Request, Database>();

/** Sends the queries of `request`'s route (those that ask requestDatabase) through `tx`. */
export function holdFor(request: Request, tx: Database): void {
  byRequest.set(request, tx);
}

/** Where `request`'s route writes: the transaction held for it, else `db`. */
export function requestDatabase(request: Request, db: Database): Database {
  return byRequest.get(request) ?? db;
}
