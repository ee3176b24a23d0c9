// HTTP written by hand on a TCP connection, for requests fetch() refuses to send.
import type { Socket } from "bun";

export interface RawExchange {
  /** Everything the server sent. */
  received: string;
  /** Whether the server closed the connection (else the wait ran out). */
  closed: boolean;
  ms: number;
}

/**
 * One TCP connection to `port`, for what fetch() cannot send: a body that announces more than it
 * sends, a header of any size, a request that stops halfway. Resolves when the server closes the
 * connection or after `waitMs`.
 */
export async function rawHttp(
  port: number,
  send: (write: (data: string | Uint8Array) => void) => void,
  waitMs: number,
): Promise<RawExchange> {
  const started = performance.now();
  let received = "";
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const pending: Uint8Array[] = [];
  let done: (closed: boolean) => void = () => {};
  const finished = new Promise<boolean>((resolve) => {
    done = resolve;
  });
  const flush = (socket: Socket<undefined>) => {
    while (pending.length > 0) {
      const chunk = pending[0]!;
      const written = socket.write(chunk);
      if (written < chunk.byteLength) {
        pending[0] = chunk.subarray(Math.max(written, 0));
        return; // the rest goes when the kernel's buffer drains
      }
      pending.shift();
    }
  };
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_, data) => {
        received += decoder.decode(data, { stream: true });
      },
      drain: flush,
      close: () => done(true),
      error: () => done(true),
    },
  });
  send((data) => {
    pending.push(typeof data === "string" ? encoder.encode(data) : data);
    flush(socket);
  });
  const timer = setTimeout(() => done(false), waitMs);
  const closed = await finished;
  clearTimeout(timer);
  socket.end();
  return { received, closed, ms: performance.now() - started };
}
