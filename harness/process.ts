// The service as a real process, for tests and the bench: a free port, and one way to start a
// server and know where it listens. The process gets the environment it is given and nothing else.
import type { Subprocess } from "bun";

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
  /** Every stdout line so far (JSON log lines), or the last `keepLines` of them. */
  lines(): string[];
  /** How many stdout lines the process has written, kept or not. */
  lineCount(): number;
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
  /**
   * Instead of a line: a URL polled until it answers 2xx, for a process that logs nothing when it
   * listens (LOG_LEVEL=warn or silent); `env` gives it the port. Its origin becomes `url`.
   */
  readyUrl?: string;
  /** Only the last N stdout lines are kept: the bench's servers write hundreds of thousands. */
  keepLines?: number;
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

/** Resolves with `url`'s origin once it answers 2xx; stops asking when the process has exited. */
async function answering(url: string, proc: Subprocess): Promise<string> {
  while (proc.exitCode === null && proc.signalCode === null) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return new URL(url).origin;
    await Bun.sleep(100);
  }
  return new Promise(() => {}); // the stdout reader reports the exit
}

/**
 * Runs `cmd` on a port of the kernel's choosing (PORT=0) and resolves once it says where it listens.
 * stdout and stderr are read to their end in any case, so a chatty process never blocks on a full
 * pipe. A process that exits or stays silent for `timeoutMs` first is an error (and is killed).
 */
export async function startProcess(
  cmd: string[],
  { cwd, env, onLine, listeningAt = serviceListeningAt, readyUrl, keepLines, timeoutMs = 30_000 }: StartOptions,
): Promise<RunningProcess> {
  const proc = Bun.spawn(cmd, {
    cwd,
    env: { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let lines: string[] = [];
  let lineCount = 0;
  const kept = () => (keepLines === undefined ? lines : lines.slice(Math.max(0, lines.length - keepLines)));
  let err = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) err += decoder.decode(chunk, { stream: true });
  })();
  const output = () => `${kept().join("\n")}\n${err}`;
  const listening = new Promise<string>((resolve, reject) => {
    void (async () => {
      for await (const line of readLines(proc.stdout)) {
        lines.push(line);
        lineCount += 1;
        // Trimmed in batches, so a long-running process costs no copy per line.
        if (keepLines !== undefined && lines.length >= 2 * keepLines) lines = kept();
        onLine?.(line);
        const url = readyUrl === undefined ? listeningAt(line) : undefined;
        if (url !== undefined) resolve(url);
      }
      reject(new Error(`${cmd.join(" ")} exited (${await proc.exited}) before listening:\n${output()}`));
    })();
    if (readyUrl !== undefined) void answering(readyUrl, proc).then(resolve);
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
    lines: () => kept().filter(Boolean),
    lineCount: () => lineCount,
    output,
    exited: proc.exited,
    stop: () => {
      proc.kill("SIGTERM");
      return proc.exited;
    },
  };
}
