// Live updates from GET /api/tasks/events. Browsers' EventSource cannot send an Authorization
// header, so the stream is read with fetch. The server closes it when the token expires; the
// client then reconnects with a fresh token and Last-Event-ID, and the server replays what it missed.
import { apiToken, forgetApiToken } from "./token.ts";

export interface ServerEvent {
  event: string;
  data: string;
  id?: string;
}

const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 30_000;
/** A network that failed (offline, the API restarting) is tried again soon: failing costs nothing. */
const LAST_NETWORK_RETRY_MS = 1_000;

/** Parses a text/event-stream body into its events; comment lines (keep-alives) are skipped. */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event: ServerEvent = { event: "message", data: "" };
  let hasData = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "") {
        if (hasData) yield event;
        event = { event: "message", data: "" };
        hasData = false;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event.event = value;
      else if (field === "id") event.id = value;
      else if (field === "data") {
        event.data = hasData ? `${event.data}\n${value}` : value;
        hasData = true;
      }
    }
  }
}

function pause(ms: number, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * Follows the user's task events until `signal` aborts: `onOpen` after every (re)connection,
 * `onEvent` for each event. A stream that ends is reopened after a short pause; failed
 * connections are retried with a growing one (at least a 429's Retry-After).
 */
export async function followTaskEvents(
  apiUrl: string,
  signal: AbortSignal,
  handlers: { onOpen: () => void; onEvent: (event: ServerEvent) => void },
) {
  let lastEventId: string | undefined;
  let retryMs = FIRST_RETRY_MS;
  while (!signal.aborted) {
    let unreachable = false;
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${await apiToken()}` };
      if (lastEventId) headers["last-event-id"] = lastEventId;
      const response = await fetch(`${apiUrl}/api/tasks/events`, { headers, signal });
      if (response.ok && response.body) {
        handlers.onOpen();
        retryMs = FIRST_RETRY_MS;
        for await (const event of readEvents(response.body)) {
          if (event.id) lastEventId = event.id;
          handlers.onEvent(event);
        }
      } else {
        if (response.status === 401) forgetApiToken();
        const retryAfter = Number(response.headers.get("retry-after"));
        if (retryAfter > 0) retryMs = Math.max(retryMs, retryAfter * 1000);
      }
    } catch {
      // A dropped connection, or the user signed out meanwhile: retry below, unless aborted.
      unreachable = true;
    }
    await pause(unreachable ? Math.min(retryMs, LAST_NETWORK_RETRY_MS) : retryMs, signal);
    retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
  }
}
