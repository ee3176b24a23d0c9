// How a process learns that another one (or itself) committed a change to a user's tasks: the
// trigger of drizzle/0004_task_notify.sql notifies the channel below with the user id, and this
// process listens on ONE connection, whatever the number of open streams. On PostgreSQL that is a
// dedicated session (LISTEN cannot work through a transaction-mode pooler, hence its own URL); on
// PGlite, the embedded database's own listen.
import type { PGlite } from "@electric-sql/pglite";
import { SQL } from "bun";
import type { DatabaseHandle } from "./client.ts";

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
  /** Resolves once the database acknowledged LISTEN; rejects when it cannot be reached. */
  listen(handlers: NotificationHandlers): Promise<void>;
  close(): Promise<void>;
}

/** `listenUrl` (PostgreSQL only): where the listening session connects; not through a transaction pooler. */
export function taskNotifications(database: DatabaseHandle, listenUrl: string | undefined): TaskNotifications {
  if (database.kind === "pglite") return pgliteNotifications((database.db as unknown as { $client: PGlite }).$client);
  if (!listenUrl) throw new Error("task notifications on PostgreSQL need the URL to listen on");
  return postgresNotifications(listenUrl);
}

function pgliteNotifications(client: PGlite): TaskNotifications {
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

function postgresNotifications(url: string): TaskNotifications {
  // Bun's SQL keeps its listeners on a connection of their own, reconnects it with exponential
  // backoff when it drops (a restart, pg_terminate_backend) and calls onlisten again each time.
  const sql = new SQL({
    url,
    max: 1,
    connectionTimeout: CONNECT_TIMEOUT_S,
    connection: { application_name: LISTENER_APPLICATION_NAME },
  });
  let subscription: SQL.ListenSubscription | undefined;
  return {
    async listen({ changed, resubscribed }) {
      let acknowledged = false;
      subscription = await sql.listen(CHANNEL, changed, () => {
        if (acknowledged) resubscribed();
        acknowledged = true;
      });
    },
    async close() {
      await subscription?.unlisten();
      await sql.close({ timeout: 1 });
    },
  };
}
