// The open event streams of this process, and what wakes them. A stream holds no queue: it holds
// its cursor and a "look again" flag. A notification (published by whichever process wrote, see
// src/db/notifications.ts; or the listener coming back after a drop) sets the flag on each of that
// user's streams, and each stream then reads the change feed from
// its own cursor when its reader asks for more. So a slow reader costs at most one page of the
// feed, never a backlog, and streams of one user at the same cursor share one read.
import type { Database } from "../../db/client.ts";
import type { TaskNotifications } from "../../db/notifications.ts";
import { HttpError } from "../../http/errors.ts";
import type { Logger } from "../../http/log.ts";
import { type ChangePage, readChanges } from "../feed/service.ts";
import { type Connection, type StalledReaders, stalledReaders, type WatchedReader } from "./stalled-readers.ts";

export const MAX_STREAMS_PER_USER = 10;
// Changes read per feed query; a stream with more to send reads again after sending them.
const PAGE_SIZE = 100;
const SHARED_READ_MS = 1000;
// What a client told "too many streams" should wait: about when a stream whose reader stopped, or
// went away without closing it, has been found stalled (stalled-readers.ts).
const RETRY_AFTER_S = 30;

export class TooManyStreamsError extends HttpError {
  constructor() {
    super(429, `Too many open event streams: at most ${MAX_STREAMS_PER_USER} per user`, {
      "retry-after": String(RETRY_AFTER_S),
    });
  }
}

export type Wake = "changed" | "idle" | "closed";

export interface Stream {
  readonly userId: string;
  /** Resolves with "changed" once there may be something to read, "idle" after `ms` without, or "closed". */
  wait(ms: number): Promise<Wake>;
  /** The changes after `cursor`, read once for every stream of this user asking for the same cursor. */
  read(cursor: string): Promise<ChangePage>;
  /** Ends the stream: its next or current wait() answers "closed". Idempotent. */
  close(): void;
  /** Closed because its reader stopped taking bytes (stalled-readers.ts). */
  readonly stalled: boolean;
  /** Its connection's last check found bytes the reader has not taken yet. */
  readonly backedUp: boolean;
}

export interface LiveEvents {
  /** After a write of `userId`'s tasks committed: wakes that user's streams in every process. */
  publish(userId: string): void;
  /**
   * Registers a stream of `userId`, or throws TooManyStreamsError. Resolves once this process is
   * listening for notifications: a feed read that starts after that misses no commit. A stream
   * given its `connection` is closed when its reader stops taking bytes.
   */
  open(userId: string, connection?: Connection): Promise<Stream>;
  /** Closes every stream and stops listening (shutdown). */
  close(): Promise<void>;
}

class OpenStream implements Stream {
  // Nothing yet: the route reads once itself after open(), which resolves only once LISTEN is in place.
  private changed = false;
  private closed = false;
  private wake: ((reason: Wake) => void) | undefined;
  private reader: WatchedReader | undefined;
  stalled = false;

  constructor(
    readonly userId: string,
    readonly read: (cursor: string) => Promise<ChangePage>,
    private readonly onClose: (stream: OpenStream) => void,
  ) {}

  notify() {
    this.changed = true;
    this.wake?.("changed");
  }

  wait(ms: number): Promise<Wake> {
    if (this.closed) return Promise.resolve("closed");
    if (this.changed) {
      this.changed = false;
      return Promise.resolve("changed");
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle("idle"), ms);
      const settle = (reason: Wake) => {
        clearTimeout(timer);
        this.wake = undefined;
        // A notification that arrives while the stream reads must cause another read.
        if (reason === "changed") this.changed = false;
        resolve(this.closed ? "closed" : reason);
      };
      this.wake = settle;
    });
  }

  get backedUp() {
    return this.reader?.backedUp ?? false;
  }

  /** Closes the stream once the reader at the other end of `connection` stops taking bytes. */
  watch(readers: StalledReaders, connection: Connection) {
    this.reader = readers.watch(connection, () => {
      this.stalled = true;
      this.close();
    });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.reader?.stop();
    this.onClose(this);
    this.wake?.("closed");
  }
}

export function liveEvents(db: Database, notifications: TaskNotifications, log: Logger): LiveEvents {
  const byUser = new Map<string, Set<OpenStream>>();
  // The latest feed read per user with open streams, shared by every stream asking for the same
  // cursor until a notification for that user makes it stale, or it is a second old: the re-read
  // every 10 s, which catches a lost notification, must reach the database.
  const reads = new Map<string, { cursor: string; at: number; page: Promise<ChangePage> }>();
  const readers = stalledReaders((cause) =>
    log.warn("cannot read the kernel's socket table; stalled event-stream readers wait for Bun's idle timeout", {
      cause,
    }),
  );
  let listening: Promise<void> | undefined;
  let count = 0;
  let closing = false;

  const wakeUser = (userId: string) => {
    reads.delete(userId);
    for (const stream of byUser.get(userId) ?? []) stream.notify();
  };

  const startListening = () => {
    listening ??= notifications
      .listen({
        changed: wakeUser,
        // Whatever was committed while the connection was down was never notified: every stream
        // looks again from its own cursor.
        resubscribed: () => {
          log.warn("listening for task changes again after a dropped connection; open streams catch up", {
            streams: count,
          });
          for (const userId of byUser.keys()) wakeUser(userId);
        },
      })
      .catch((error: unknown) => {
        listening = undefined; // the next stream tries again
        throw error;
      });
    return listening;
  };

  const sharedRead = (userId: string) => (cursor: string) => {
    const last = reads.get(userId);
    if (last?.cursor === cursor && Date.now() - last.at < SHARED_READ_MS) return last.page;
    const page = readChanges(db, userId, cursor, PAGE_SIZE);
    const entry = { cursor, at: Date.now(), page };
    reads.set(userId, entry);
    page.catch(() => {
      if (reads.get(userId) === entry) reads.delete(userId);
    });
    return page;
  };

  const forget = (stream: OpenStream) => {
    const streams = byUser.get(stream.userId);
    if (!streams?.delete(stream)) return;
    count -= 1;
    if (streams.size === 0) {
      byUser.delete(stream.userId);
      reads.delete(stream.userId);
    }
  };

  return {
    publish: (userId) => notifications.publish(userId),
    async open(userId, connection) {
      const streams = byUser.get(userId) ?? new Set();
      if (streams.size >= MAX_STREAMS_PER_USER) throw new TooManyStreamsError();
      // Counted at once, before any await, so concurrent opens cannot pass the limit together.
      const stream = new OpenStream(userId, sharedRead(userId), forget);
      if (connection) stream.watch(readers, connection);
      streams.add(stream);
      byUser.set(userId, streams);
      count += 1;
      // A request that slipped in during shutdown gets a stream that ends at once; its client
      // reconnects elsewhere.
      if (closing) {
        stream.close();
        return stream;
      }
      try {
        await startListening();
      } catch (error) {
        stream.close();
        throw error;
      }
      return stream;
    },
    async close() {
      closing = true;
      for (const streams of [...byUser.values()]) for (const stream of [...streams]) stream.close();
      await notifications.close();
    },
  };
}
