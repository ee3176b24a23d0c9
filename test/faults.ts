// Tools for tests that break things on purpose: a throwaway PostgreSQL cluster of our own, a TCP
// proxy whose behaviour the test switches, and the service started as a real process.
// The shared server on 5432 is never stopped, paused or proxied for an outage.
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Socket, Subprocess } from "bun";
import { testBinary } from "./binary.ts";

/** A free TCP port on loopback, as the kernel hands it out. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

/** PostgreSQL's binaries from the newest Debian package present, or undefined when none is. */
function postgresBin(): string | undefined {
  try {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    return versions[0] && join("/usr/lib/postgresql", versions[0], "bin");
  } catch {
    return undefined;
  }
}

export const hasPostgresBinaries = postgresBin() !== undefined;

export interface Cluster {
  url: string;
  port: number;
  start(): Promise<void>;
  /** `fast`: what `systemctl stop` does; clients get 57P01 and then connection refused. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL cluster in a temp dir on a spare port, with its own `todo` database. initdb
 * refuses to run as root, so as root the cluster belongs to the `postgres` user.
 */
export async function startCluster(): Promise<Cluster> {
  const bin = postgresBin();
  if (!bin) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql");
  const dir = mkdtempSync(join(tmpdir(), "todo-api-pg-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot)
    chownSync(dir, Number(run(["id", "-u", "postgres"]).trim()), Number(run(["id", "-g", "postgres"]).trim()));
  const as = (cmd: string[]) => (asRoot ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd);
  const data = join(dir, "data");
  const port = freePort();
  run(as([`${bin}/initdb`, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]));
  const cluster: Cluster = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/todo`,
    start: async () => {
      const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=50`;
      run(as([`${bin}/pg_ctl`, "-D", data, "-l", join(dir, "log"), "-w", "-o", options, "start"]));
    },
    stop: async () => {
      run(as([`${bin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]));
    },
    destroy: async () => {
      Bun.spawnSync(as([`${bin}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"]));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  run(as([`${bin}/createdb`, "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "todo"]));
  return cluster;
}

function run(cmd: string[]): string {
  const result = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/**
 * forward: a plain TCP relay. refuse: nothing listens (connection refused) and open connections
 * are cut, as when the server is down. hang: connections are accepted and every byte either way
 * is swallowed, as with a frozen server or a black-holed network; connections opened while
 * hanging stay dead after the proxy forwards again, as after a middlebox lost their state.
 */
export type ProxyMode = "forward" | "refuse" | "hang";

interface End {
  peer?: Socket<End>;
  pending: Uint8Array[];
  dead: boolean;
}

export interface Proxy {
  port: number;
  mode: ProxyMode;
  set(mode: ProxyMode): void;
  close(): void;
}

export function tcpProxy(target: { hostname: string; port: number }): Proxy {
  const port = freePort();
  const open = new Set<Socket<End>>();
  let mode: ProxyMode = "forward";

  const flush = (to: Socket<End>, queue: Uint8Array[]) => {
    while (queue.length > 0) {
      const chunk = queue[0]!;
      const written = to.write(chunk);
      if (written < chunk.byteLength) {
        queue[0] = chunk.subarray(written);
        return;
      }
      queue.shift();
    }
  };
  const relay = (from: Socket<End>, data: Uint8Array) => {
    if (mode === "hang" || from.data.dead) return;
    const peer = from.data.peer;
    if (peer) {
      peer.data.pending.push(data);
      flush(peer, peer.data.pending);
    } else {
      from.data.pending.push(data); // upstream not connected yet: hold the bytes for it
    }
  };
  const handlers = {
    data: relay,
    drain: (socket: Socket<End>) => flush(socket, socket.data.pending),
    close: (socket: Socket<End>) => {
      open.delete(socket);
      if (!socket.data.dead) socket.data.peer?.end();
    },
    error: () => {},
  };

  let listener: ReturnType<typeof listen> | undefined;
  function listen() {
    return Bun.listen<End>({
      hostname: "127.0.0.1",
      port,
      socket: {
        ...handlers,
        open: (client) => {
          client.data = { pending: [], dead: mode === "hang" };
          open.add(client);
          if (client.data.dead) return;
          Bun.connect<End>({
            ...target,
            data: { pending: [], dead: false, peer: client },
            socket: { ...handlers, connectError: () => void client.end() },
          }).then(
            (upstream) => {
              open.add(upstream);
              const queued = client.data.pending;
              client.data.pending = [];
              client.data.peer = upstream;
              upstream.data.pending.push(...queued);
              flush(upstream, upstream.data.pending);
            },
            () => void client.end(),
          );
        },
      },
    });
  }
  listener = listen();

  return {
    port,
    get mode() {
      return mode;
    },
    set(next) {
      if (next === mode) return;
      if (mode === "hang") for (const socket of open) socket.data.dead = true;
      if (next === "refuse") {
        listener?.stop(true);
        listener = undefined;
        for (const socket of open) socket.terminate();
        open.clear();
      } else if (!listener) {
        listener = listen();
      }
      mode = next;
    },
    close() {
      listener?.stop(true);
      for (const socket of open) socket.terminate();
    },
  };
}

/**
 * `bun src/index.ts`, or the compiled binary in the suite's binary mode (TEST_BINARY), with its
 * output captured.
 */
export interface ServiceProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  /** Every stdout line so far (JSON log lines). */
  lines(): string[];
  /** stdout and stderr as text so far. */
  output(): string;
  exited: Promise<number>;
}

export async function startService(env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceProcess> {
  const proc = Bun.spawn(testBinary ? [testBinary] : ["bun", "src/index.ts"], {
    cwd: testBinary ? dirname(testBinary) : join(import.meta.dir, ".."),
    env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", NODE_ENV: "test", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  const decoder = new TextDecoder();
  const errDecoder = new TextDecoder();
  const listening = new Promise<string>((resolve, reject) => {
    void (async () => {
      for await (const chunk of proc.stdout) {
        out += decoder.decode(chunk, { stream: true });
        const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
        if (line) resolve(JSON.parse(line).url);
      }
      reject(new Error(`service exited before listening:\n${out}${err}`));
    })();
    void (async () => {
      for await (const chunk of proc.stderr) err += errDecoder.decode(chunk, { stream: true });
    })();
  });
  let timer: Timer | undefined;
  const url = await Promise.race([
    listening,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`service did not listen within ${timeoutMs} ms:\n${out}${err}`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  return {
    proc,
    url: url.replace(/\/$/, ""),
    lines: () => out.split("\n").filter(Boolean),
    output: () => out + err,
    exited: proc.exited,
  };
}

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

export interface LoadResult {
  requestId: string;
  method: string;
  /** The task title a POST sent. */
  title?: string;
  status?: number;
  /** The created task's id, for a 201. */
  taskId?: string;
  /** Why no response came (Bun's error code, e.g. ECONNREFUSED). */
  error?: string;
}

/**
 * `writers` loops creating tasks and `readers` loops listing them, as fast as the service answers,
 * each request with its own X-Request-Id, until stop() or `maxRequests`. A loop whose request
 * fails (nothing listening) waits 10 ms before the next, so the generator stays bounded.
 */
export function loadGenerator(url: string, token: string, { writers = 6, readers = 2, maxRequests = 5000 } = {}) {
  const results: LoadResult[] = [];
  let stopped = false;
  let sent = 0;
  const headers = (requestId: string) => ({
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    "x-request-id": requestId,
  });
  const loop = async (name: string, write: boolean) => {
    for (let i = 0; !stopped && sent < maxRequests; i++) {
      sent++;
      const requestId = `${name}-${i}`;
      const result: LoadResult = { requestId, method: write ? "POST" : "GET" };
      if (write) result.title = `load ${requestId}`;
      results.push(result);
      try {
        const res = write
          ? await fetch(`${url}/api/tasks`, {
              method: "POST",
              headers: headers(requestId),
              body: JSON.stringify({ title: result.title }),
            })
          : await fetch(`${url}/api/tasks?limit=5`, { headers: headers(requestId) });
        const body = await res.text();
        result.status = res.status;
        if (res.status === 201) result.taskId = (JSON.parse(body) as { id: string }).id;
      } catch (error) {
        result.error = (error as { code?: string }).code ?? String(error);
        await Bun.sleep(10);
      }
    }
  };
  const loops = [
    ...Array.from({ length: writers }, (_, i) => loop(`w${i}`, true)),
    ...Array.from({ length: readers }, (_, i) => loop(`r${i}`, false)),
  ];
  return {
    results,
    acknowledged: () => results.filter((r) => r.status === 201),
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return results;
    },
  };
}
