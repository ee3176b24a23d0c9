// Reading GET .../tasks/events the way a client does: fetch, then Server-Sent Events parsed off the
// body. `handle` is an app's handle() (in process, or the binary over HTTP) or fetch itself.
import type { Task } from "../src/modules/tasks/model.ts";

export type LiveEvent =
  | { id: string; event: "task"; data: Task }
  | { id: string; event: "delete"; data: { id: string } };

export interface OpenedStream {
  status: number;
  headers: Headers;
  /** Comment lines seen so far (without the leading colon and space). */
  comments: string[];
  /** Every event received so far, in order. */
  events: LiveEvent[];
  /** Resolves once `count` events in all have arrived; rejects after `ms`. */
  waitFor(count: number, ms?: number): Promise<LiveEvent[]>;
  /** Resolves when the server ends the stream, with how long that took; rejects after `ms`. */
  ended(ms?: number): Promise<number>;
  /** The body of a refused stream (a 4xx), parsed. */
  body?: unknown;
  close(): void;
}

type Handle = (request: Request) => Promise<Response>;

export async function openStream(
  handle: Handle,
  url: string,
  { token, headers = {} }: { token?: string; headers?: Record<string, string> } = {},
): Promise<OpenedStream> {
  const abort = new AbortController();
  const all: Record<string, string> = { ...headers };
  if (token) all.authorization = `Bearer ${token}`;
  const response = await handle(new Request(url, { headers: all, signal: abort.signal }));
  const events: LiveEvent[] = [];
  const comments: string[] = [];
  let done = false;
  let doneAt = 0;
  const opened = performance.now();
  const stream: OpenedStream = {
    status: response.status,
    headers: response.headers,
    comments,
    events,
    waitFor: (count, ms = 5000) =>
      until(
        () => events.length >= count,
        ms,
        () => `${events.length}/${count} events`,
      ).then(() => events),
    ended: async (ms = 5000) => {
      await until(
        () => done,
        ms,
        () => "the stream to end",
      );
      return doneAt - opened;
    },
    close: () => abort.abort(),
  };
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
    const text = await response.text();
    stream.body = text ? JSON.parse(text) : undefined;
    return stream;
  }
  void (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array | string>) {
        rest += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
        let end = rest.indexOf("\n\n");
        for (; end !== -1; end = rest.indexOf("\n\n")) {
          parseBlock(rest.slice(0, end), events, comments);
          rest = rest.slice(end + 2);
        }
      }
    } catch {
      // aborted by close()
    }
    done = true;
    doneAt = performance.now();
  })();
  return stream;
}

function parseBlock(block: string, events: LiveEvent[], comments: string[]) {
  const fields: Record<string, string> = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) comments.push(line.slice(1).trim());
    else {
      const colon = line.indexOf(":");
      fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "");
    }
  }
  if (fields.event) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data!) } as LiveEvent);
}

export async function until(condition: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await Bun.sleep(5);
  }
}

/** The tasks a client ends with after applying `events` to `start`, by id. */
export function applied(events: LiveEvent[], start: Task[] = []): Map<string, Task> {
  const tasks = new Map(start.map((task) => [task.id, task]));
  for (const e of events) {
    if (e.event === "task") tasks.set(e.data.id, e.data);
    else tasks.delete(e.data.id);
  }
  return tasks;
}
