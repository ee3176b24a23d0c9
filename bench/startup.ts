// `bun bench/startup.ts [binary]`: time from exec to the first 200 from /health/ready, for the
// compiled binary (default dist/todo-api) on PostgreSQL (an already migrated database) and on an
// existing PGlite data dir. One unmeasured start prepares each; then RUNS timed starts, median first.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SQL } from "bun";
import { freePort } from "../harness/process.ts";

const RUNS = 7;
const binary = resolve(process.argv[2] ?? join(import.meta.dir, "../dist/todo-api"));
const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Milliseconds from spawn to the first 200 from /health/ready; the process is stopped after. */
async function timeToReady(env: Record<string, string>): Promise<number> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}/health/ready`;
  const started = performance.now();
  const proc = Bun.spawn([binary], {
    env: {
      ...env,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
      BETTER_AUTH_SECRET: "x".repeat(32),
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  try {
    while (performance.now() - started < 60_000) {
      if (proc.exitCode !== null) throw new Error(`${binary} exited with ${proc.exitCode}`);
      const ok = await fetch(url).then(
        (res) => res.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      await Bun.sleep(2);
    }
    throw new Error("not ready after 60 s");
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

async function measure(label: string, env: Record<string, string>) {
  await timeToReady(env);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await timeToReady(env));
  const sorted = times.toSorted((a, b) => a - b);
  const ms = (t: number) => `${Math.round(t)} ms`;
  console.log(
    `${label.padEnd(28)} median ${ms(sorted[RUNS >> 1]!)}  (min ${ms(sorted[0]!)}, max ${ms(sorted.at(-1)!)}; ${RUNS} runs)`,
  );
}

const size = Bun.file(binary).size;
console.log(`${binary}: ${(size / 1e6).toFixed(1)} MB (${size} bytes)`);

const name = `todo_startup_${process.pid}`;
const admin = new SQL({ url: adminUrl, max: 1 });
await admin.unsafe(`create database ${name}`);
const dir = mkdtempSync(join(tmpdir(), "todo-startup-"));
try {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await measure("PostgreSQL, migrated", { DATABASE_URL: url.href });
  await measure("PGlite, existing data dir", { DATA_DIR: join(dir, "data") });
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
}
