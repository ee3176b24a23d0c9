// GET .../tasks/events: the caller's task changes as Server-Sent Events, live, from any process.
// Each event's id is a change-feed cursor, so a client that reconnects with Last-Event-ID (or
// ?since=) gets exactly what it missed, then live changes. streams.ts says what wakes a stream.
import { Elysia, sse, t } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import { AuthError } from "../../auth/verify.ts";
import type { Database } from "../../db/client.ts";
import { ErrorBody, ValidationErrorBody } from "../../http/error-body.ts";
import { HttpError } from "../../http/errors.ts";
import type { Logger } from "../../http/log.ts";
import { logWhenStreamEnds, requestId } from "../../http/request-log.ts";
import { type ChangePage, currentCursor } from "../feed/service.ts";
import { type LiveEvents, MAX_STREAMS_PER_USER } from "./streams.ts";

// A comment every 2 s, well inside the contract's 15 s, padded so that a reader that stops taking
// bytes has a full buffer within about 30 s: only then can the kernel tell it from a reader that
// takes them (stalled-readers.ts has the measurements). A Linux client's receive buffer takes about
// 135 KB unread before its window closes; 10 KiB every 2 s fills that in 27 s. Many small writes
// rather than a few large ones: bursts of 24 KiB every 5 s made a healthy curl's kernel grow its
// buffer to 370 KB (receive-buffer autotuning), which would then take minutes to fill. The price is
// 5 KB/s per open stream; a stream whose bytes are already piling up gets no padding.
const KEEPALIVE_MS = 2000;
// How often a quiet stream reads the change feed anyway, to catch a lost notification.
const RECHECK_MS = 10_000;
// Bun closes a connection that took no byte for this long (its idle timer restarts on every byte
// written, so it only fires once the kernel's buffers are full): a backstop behind
// stalled-readers.ts, which ends the stream. Bun's default 10 s is the server's for other routes.
const STALLED_S = 30;

// A comment line: it keeps proxies from closing a quiet stream, and EventSource and Eden skip it.
// Elysia writes what toSSE() returns as it is; `sse: true` makes the stream text/event-stream
// when a comment is its first chunk.
const comment = (text: string) => ({ sse: true, toSSE: () => `: ${text}\n\n` }) as never;
const keepAlive = comment("keep-alive");
const paddedKeepAlive = comment(`keep-alive${" ".repeat(10 * 1024)}`);

function event(change: ChangePage["changes"][number]) {
  return "task" in change
    ? sse({ event: "task" as const, id: change.cursor, data: change.task })
    : sse({ event: "delete" as const, id: change.cursor, data: { id: change.deleted } });
}

type EndReason = "expired" | "client" | "stalled" | "shutdown" | "error";

export function eventRoutes(auth: ReturnType<typeof authentication>, db: Database, live: LiveEvents, log: Logger) {
  return new Elysia({ detail: { tags: ["Tasks"] } }).use(auth).get(
    "/events",
    async function* ({ user, query, headers, request, server }) {
      const expiry = user.expiresAt;
      // Past `exp` but inside the verifier's clock tolerance: a stream would end at once, and a
      // client reconnecting with the same token would loop. A 401 makes it fetch a fresh token.
      if (expiry <= Date.now()) throw new AuthError("Token has expired");
      // The kernel knows the connection by its two ends; none without a server (app.handle() in tests).
      const peer = server?.requestIP(request);
      const localPort = server?.port;
      const stream = await live.open(user.id, peer && localPort ? { localPort, peer } : undefined);
      const closeOnAbort = () => stream.close();
      request.signal.addEventListener("abort", closeOnAbort);
      try {
        // Last-Event-ID first: EventSource sends it on a reconnect, with the URL (and ?since=) of
        // the first connection. A bad or expired cursor is a 400/410 before the stream starts.
        const since = headers["last-event-id"] || query.since;
        let cursor = since ?? (await currentCursor(db, user.id));
        let page = since === undefined ? undefined : await stream.read(since);
        let readAt = Date.now();
        server?.timeout(request, STALLED_S);
        const finish = logWhenStreamEnds(request);
        let sent = 0;
        let reason: EndReason = "client";
        try {
          // The headers go out with the first bytes: now, not at the first change.
          yield comment("connected");
          for (;;) {
            if (page) {
              for (const change of page.changes) {
                yield event(change);
                sent += 1;
              }
              cursor = page.cursor;
              page = page.hasMore ? await stream.read(cursor) : undefined;
              readAt = Date.now();
              if (page) continue;
            }
            const left = expiry - Date.now();
            if (left <= 0) {
              reason = "expired";
              return;
            }
            const wake = await stream.wait(Math.min(KEEPALIVE_MS, left));
            if (wake === "closed") {
              reason = stream.stalled ? "stalled" : request.signal.aborted ? "client" : "shutdown";
              return;
            }
            // Also every RECHECK_MS: a change whose notification was lost (its writer died between
            // commit and publish, or it was written around the service) arrives within 10 s.
            if (wake === "changed" || Date.now() - readAt >= RECHECK_MS) {
              page = await stream.read(cursor);
              readAt = Date.now();
            }
            if (wake === "idle" && !page?.changes.length && Date.now() < expiry)
              yield stream.backedUp ? keepAlive : paddedKeepAlive;
          }
        } catch (error) {
          // The stream has started: its status is sent. The client reconnects with its last id,
          // and then gets the 410 or 503 this read met, as an answer.
          reason = "error";
          if (!(error instanceof HttpError))
            log.error("event stream failed", { request_id: requestId(request), cause: error });
        } finally {
          finish({ events_sent: sent, end: reason });
        }
      } finally {
        request.signal.removeEventListener("abort", closeOnAbort);
        stream.close();
      }
    },
    {
      query: t.Object({
        since: t.Optional(
          t.String({ description: "A change-feed cursor (an event's `id`); `Last-Event-ID` wins when both are sent." }),
        ),
      }),
      headers: t.Object({
        "last-event-id": t.Optional(t.String({ description: "The `id` of the last event received." })),
      }),
      response: {
        400: ValidationErrorBody,
        401: ErrorBody,
        403: ErrorBody,
        410: ErrorBody,
        429: ErrorBody,
        503: ErrorBody,
      },
      detail: {
        summary: "Live changes of the caller's tasks (Server-Sent Events)",
        description: `200 \`text/event-stream\`, kept open: \`event: task\` with the task after a create or update, \`event: delete\` with \`{"id"}\` after a delete, each with a change-feed cursor as its \`id\`, within 1 s of the change, from any replica. With \`Last-Event-ID\` (or \`since\`) the changes after that cursor come first (400/410 as for the change feed). A comment line every ${KEEPALIVE_MS / 1000} s, padded with spaces, so that a reader that stops taking bytes (or vanishes without closing) is found and dropped within about 30 s. The stream ends when the token expires and on shutdown: reconnect with a fresh token and the last id. At most ${MAX_STREAMS_PER_USER} open streams per user per process: 429 with \`Retry-After\`. Browsers' EventSource cannot send Authorization: read it with fetch or Eden.`,
      },
    },
  );
}

/**
 * Publishes a change of the caller's tasks once a write under it answered 2xx (after the response,
 * so after its commit). A replayed Idempotency-Key answer publishes again, which only makes streams
 * read nothing new; a 304, 4xx or 5xx wrote nothing.
 */
export function publishChanges(auth: ReturnType<typeof authentication>, live: LiveEvents) {
  return new Elysia({ name: "publish-changes" })
    .use(auth)
    .onAfterResponse({ as: "scoped" }, ({ request, set, user }) => {
      const status = typeof set.status === "number" ? set.status : 200;
      if (request.method !== "GET" && status >= 200 && status < 300 && user) live.publish(user.id);
    });
}
