// How a process learns that another one (or itself) committed a change to a user's tasks: the
// process that wrote publishes the user id on the channel below once its write has committed, and
// every process listens on ONE connection, whatever the number of open streams. On PostgreSQL that
// is a dedicated session (LISTEN cannot work through a transaction-mode pooler, hence its own URL);
// on PGlite, the embedded database's own listen.
//
// Published after the commit, not by a trigger inside the writing transaction: PostgreSQL
// serializes the commits of transactions that NOTIFY (a database-wide lock held through the
// commit's WAL flush), and with a trigger 64 concurrent writers fell from 4,065 to 1,214 toggles/s
// here. A NOTIFY of its own writes no WAL. The price: a change whose writer dies between its commit
// and the publish, or a write made around the service, wakes no stream; streams re-read the feed
// every 10 s (src/modules/events/index.ts), so such a change arrives within 10 s.
import type { PGlite } from "@electric-sql/pglite";
import { SQL as BunSQL } from "bun";
import { sql } from "drizzle-orm";
import type { Database, DatabaseHandle } from "./client.ts";
import { preparedFor, preparedSql, rows } from "./prepared.ts";

const CHANNEL = "task_changes";
// Found by tests and operators in pg_stat_activity (e.g. to pg_terminate_backend it).
export const LISTENER_APPLICATION_NAME = "todo-api listener";
const CONNECT_TIMEOUT_S = 2;

export interface NotificationHandlers {
  /** A committed change to this user's tasks. */
  changed(userId: string): void;
  /**
   * The listening connection dropped and LISTEN is in place again: notifications sent in between
   * are lost, so whatever depends on them must look again.
   */
  resubscribed(): void;
}

export interface TaskNotifications {
  /**
   * Tells every process that `userId`'s tasks changed; call it after the change committed. User ids
   * published within a few milliseconds go out in one statement; a failure is given to `onError`.
   */
  publish(userId: string): void;
  /** Resolves once the database acknowledged LISTEN; rejects when it cannot be reached. */
  listen(handlers: NotificationHandlers): Promise<void>;
  close(): Promise<void>;
}

/** On PostgreSQL the listening session connects to `sessionUrl`, never through a transaction pooler. */
export function taskNotifications(database: DatabaseHandle, onError: (cause: unknown) => void): TaskNotifications {
  // Through the pool: a NOTIFY needs no session, so a transaction-mode pooler carries it.
  const publish = batchedPublisher(database.db, onError);
  return {
    publish,
    ...(database.kind === "pglite" ? pgliteListener(database.client) : postgresListener(database.sessionUrl)),
  };
}

// The writes of 20 ms go out in one statement: with 2 ms, a loaded process sent one per write or
// two, which cost a write 17 µs of the service's CPU (toggle fell from 0.82 to 0.67 of the bench's
// baseline). 20 ms is still short against the contract's 1 s.
const BATCH_MS = 20;

const publishQuery = preparedFor((db, _: undefined) =>
  preparedSql(
    db,
    "publish_task_changes",
    sql`select pg_notify(${CHANNEL}, id) from unnest(${sql.placeholder("ids")}::text[]) as id`,
  ),
);

function batchedPublisher(db: Database, onError: (cause: unknown) => void): (userId: string) => void {
  let pending: Set<string> | undefined;
  const flush = async () => {
    const ids = [...pending!];
    pending = undefined;
    try {
      await rows(publishQuery(db, undefined), { ids });
    } catch (cause) {
      onError(cause);
    }
  };
  return (userId) => {
    if (!pending) {
      pending = new Set();
      setTimeout(flush, BATCH_MS);
    }
    pending.add(userId);
  };
}

type Listener = Omit<TaskNotifications, "publish">;

function pgliteListener(client: PGlite): Listener {
  let unlisten: (() => Promise<void>) | undefined;
  return {
    async listen({ changed }) {
      unlisten = await client.listen(CHANNEL, changed);
    },
    async close() {
      // The database may be closed already at shutdown; nothing is listening then.
      if (!client.closed) await unlisten?.();
    },
  };
}

function postgresListener(url: string): Listener {
  // Bun's SQL keeps its listeners on a connection of their own, reconnects it with exponential
  // backoff when it drops (a restart, pg_terminate_backend) and calls onlisten again each time.
  const session = new BunSQL({
    url,
    max: 1,
    connectionTimeout: CONNECT_TIMEOUT_S,
    connection: { application_name: LISTENER_APPLICATION_NAME },
  });
  let subscription: BunSQL.ListenSubscription | undefined;
  return {
    async listen({ changed, resubscribed }) {
      let acknowledged = false;
      subscription = await session.listen(CHANNEL, changed, () => {
        if (acknowledged) resubscribed();
        acknowledged = true;
      });
    },
    async close() {
      await subscription?.unlisten();
      await session.close({ timeout: 1 });
    },
  };
}
