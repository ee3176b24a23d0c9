// The service as a real process, for tests and the bench: a free port, and one way to start a
// server and know where it listens. The process gets the environment it is given and nothing else.
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { testBinary } from "./target.ts";

/** A free TCP port on loopback, as the kernel hands it out. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

export interface RunningProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** http://127.0.0.1:<port>, without a trailing slash. */
  url: string;
  /** Every stdout line so far (JSON log lines). */
  lines(): string[];
  /** stdout and stderr as text so far. */
  output(): string;
  exited: Promise<number>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

interface StartOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Called with every stdout line, before and after "listening". */
  onLine?: (line: string) => void;
  /** The URL a stdout line says the process listens on; by default the service's "listening" log line. */
  listeningAt?: (line: string) => string | undefined;
  timeoutMs?: number;
}

function serviceListeningAt(line: string): string | undefined {
  return line.includes('"msg":"listening"') ? (JSON.parse(line) as { url: string }).url : undefined;
}

async function* readLines(stream: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

/**
 * Runs `cmd` on a port of the kernel's choosing (PORT=0) and resolves once it says where it listens.
 * stdout and stderr are read to their end in any case, so a chatty process never blocks on a full
 * pipe. A process that exits or stays silent for `timeoutMs` first is an error (and is killed).
 */
export async function startProcess(
  cmd: string[],
  { cwd, env, onLine, listeningAt = serviceListeningAt, timeoutMs = 30_000 }: StartOptions,
): Promise<RunningProcess> {
  const proc = Bun.spawn(cmd, {
    cwd,
    env: { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  let err = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) err += decoder.decode(chunk, { stream: true });
  })();
  const output = () => `${lines.join("\n")}\n${err}`;
  const listening = new Promise<string>((resolve, reject) => {
    void (async () => {
      for await (const line of readLines(proc.stdout)) {
        lines.push(line);
        onLine?.(line);
        const url = listeningAt(line);
        if (url !== undefined) resolve(url);
      }
      reject(new Error(`${cmd.join(" ")} exited (${await proc.exited}) before listening:\n${output()}`));
    })();
  });
  let timer: Timer | undefined;
  const url = await Promise.race([
    listening,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`${cmd.join(" ")} did not listen within ${timeoutMs} ms:\n${output()}`));
      }, timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return {
    proc,
    url: url.replace(/\/$/, ""),
    lines: () => lines.filter(Boolean),
    output,
    exited: proc.exited,
    stop: () => {
      proc.kill("SIGTERM");
      return proc.exited;
    },
  };
}

/** `bun src/index.ts`, or the compiled binary in the suite's binary mode (TEST_BINARY). */
export function startService(env: Record<string, string>, timeoutMs?: number): Promise<RunningProcess> {
  return startProcess(testBinary ? [testBinary] : ["bun", "src/index.ts"], {
    cwd: testBinary ? dirname(testBinary) : join(import.meta.dir, "../.."),
    env: { PATH: process.env.PATH, NODE_ENV: "test", ...env },
    timeoutMs,
  });
}
