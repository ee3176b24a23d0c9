// The `events` scenario of `bun run bench` (or alone: `bun bench/events.ts`): STREAMS open event
// streams on one service process (one per user, over loopback) while tasks are created at a steady
// RATE, each for a user with a stream. Reports the server's RSS before and with the streams, its
// CPU while they sit idle, and the latency from sending a write to its event arriving on the stream.
// Goals (bench/README.md): p99 under 100 ms; under 50 MB for 1,000 streams.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Socket, SQL } from "bun";
import { freePort, type RunningProcess, startProcess } from "../harness/process.ts";
import { mintToken } from "../src/auth/dev-token.ts";
import { migratePostgres } from "../src/db/migrate.ts";
import { cpuSeconds, processTree } from "./proc.ts";
import { databaseUrl, dropDatabases } from "./seed.ts";
import { SERVER_LOG_TAIL } from "./servers.ts";

const ROOT = resolve(import.meta.dir, "..");
export const MAX_P99_MS = 100;
export const MAX_STREAMS_MB = 50;

export interface EventsOptions {
  label: string;
  cmd: string[];
  env: Record<string, string>;
  serverUrl: string;
  streams?: number;
  /** Writes per second while the streams are open. */
  rate?: number;
  seconds?: number;
}

export interface EventsResult {
  label: string;
  streams: number;
  rssBeforeMb: number;
  rssWithMb: number;
  idleCpu: number;
  writes: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
}

const rssMb = (pids: number[]) =>
  pids.reduce((kb, pid) => {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return kb + Number(match?.[1] ?? 0);
  }, 0) / 1024;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

export async function runEventsBench(options: EventsOptions): Promise<EventsResult> {
  const { streams: count = 1000, rate = 50, seconds = 20 } = options;
  const name = `todo_bench_events_${Date.now().toString(36)}_${process.pid}`;
  const admin = new SQL({ url: options.serverUrl, max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.close();
  const url = databaseUrl(options.serverUrl, name);
  await migratePostgres(url);
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const sockets: Socket[] = [];
  let server: RunningProcess | undefined;
  try {
    server = await startProcess(options.cmd, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        ...options.env,
        DATABASE_URL: url,
        BETTER_AUTH_SECRET: secret,
        HOST: "127.0.0.1",
        PORT: String(port),
      },
      // Not the "listening" line: LOG_LEVEL may be silent, and with WORKERS > 1 they share the port.
      readyUrl: `${base}/health/ready`,
      keepLines: SERVER_LOG_TAIL,
      timeoutMs: 20_000,
    });
    const tokens = await Promise.all(
      Array.from({ length: count }, (_, i) => mintToken(secret, { sub: `events-bench-${i}` })),
    );
    const write = (i: number, title: string) =>
      fetch(`${base}/api/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${tokens[i]}`, "content-type": "application/json" },
        body: JSON.stringify({ title }),
      }).then((r) => r.arrayBuffer());
    // Warm up the write path and the user rows, so the RSS before counts no first-request work.
    for (let i = 0; i < count; i += 50)
      await Promise.all(tokens.slice(i, i + 50).map((_, k) => write(i + k, "warm-up")));
    const pids = processTree(server.proc.pid);
    Bun.gc(true);
    await Bun.sleep(2000);
    const rssBeforeMb = rssMb(pids);

    // Raw sockets: a thousand fetch() streams would cost this process more than the server.
    const sent = new Map<number, number>();
    const latencies: number[] = [];
    let opened = 0;
    const marker = /"title":"w(\d+)"/g;
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        tokens.slice(i, i + 50).map(
          (token) =>
            new Promise<void>((resolveOpen, reject) => {
              let seen = "";
              Bun.connect({
                hostname: "127.0.0.1",
                port,
                socket: {
                  open(socket) {
                    sockets.push(socket);
                    socket.write(
                      `GET /api/tasks/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`,
                    );
                  },
                  data(_, chunk) {
                    const now = performance.now();
                    const text = chunk.toString();
                    if (!seen.includes("connected")) {
                      seen += text;
                      if (seen.includes("connected")) {
                        if (!seen.startsWith("HTTP/1.1 200")) reject(new Error(seen.slice(0, 200)));
                        opened += 1;
                        resolveOpen();
                      }
                    }
                    for (const match of text.matchAll(marker)) {
                      const at = sent.get(Number(match[1]));
                      if (at !== undefined) latencies.push(now - at);
                    }
                  },
                  error: (_, error) => reject(error),
                },
              }).catch(reject);
            }),
        ),
      );
    }
    await Bun.sleep(3000);
    Bun.gc(true);
    const rssWithMb = rssMb(pids);
    const cpu0 = cpuSeconds(pids);
    await Bun.sleep(10_000);
    const idleCpu = (cpuSeconds(pids) - cpu0) / 10;

    const total = rate * seconds;
    const started = performance.now();
    const pending: Promise<unknown>[] = [];
    for (let n = 0; n < total; n++) {
      const due = started + (n * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      sent.set(n, performance.now());
      pending.push(write(n % count, `w${n}`));
    }
    await Promise.all(pending);
    await Bun.sleep(2000);
    const sorted = latencies.sort((a, b) => a - b);
    return {
      label: options.label,
      streams: opened,
      rssBeforeMb,
      rssWithMb,
      idleCpu,
      writes: total,
      received: sorted.length,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? Number.NaN,
    };
  } finally {
    for (const socket of sockets) socket.end();
    if (server) {
      server.proc.kill("SIGTERM");
      await Promise.race([server.exited, Bun.sleep(12_000)]);
      server.proc.kill("SIGKILL");
    }
    await dropDatabases(options.serverUrl, [name]);
  }
}

export function printEvents(results: EventsResult[]) {
  console.log("\nevents: streams on one process, writes at a steady rate, latency from sending a write to its event");
  for (const r of results) {
    const streamsMb = r.rssWithMb - r.rssBeforeMb;
    const problems = [
      r.p99 > MAX_P99_MS && `p99>${MAX_P99_MS}ms`,
      streamsMb > MAX_STREAMS_MB && `streams>${MAX_STREAMS_MB}MB`,
      r.received < r.writes && "lost events",
    ].filter(Boolean);
    console.log(
      `  ${r.label}: ${r.streams} streams; RSS ${r.rssBeforeMb.toFixed(0)} MB before, ${r.rssWithMb.toFixed(0)} MB with them (+${streamsMb.toFixed(1)} MB); idle CPU ${(r.idleCpu * 100).toFixed(1)}% of a core; ${r.received}/${r.writes} events; latency p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms: ${problems.length ? `FAIL ${problems.join(" ")}` : "PASS"}`,
    );
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      server: { type: "string", default: "service" },
      streams: { type: "string", default: "1000" },
      rate: { type: "string", default: "50" },
      seconds: { type: "string", default: "20" },
      "database-url": {
        type: "string",
        default: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
      },
    },
  });
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  console.log(`bench events: load average ${load()}`);
  const result = await runEventsBench({
    label: values.server,
    cmd:
      values.server === "binary" ? [join(ROOT, "dist", "todo-api")] : [process.execPath, join(ROOT, "src", "index.ts")],
    env: { NODE_ENV: "production", LOG_LEVEL: "info" },
    serverUrl: values["database-url"],
    streams: Number(values.streams),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
  });
  printEvents([result]);
  console.log(`bench events: load average now ${load()}`);
}
