// Live events across real processes: a write through one process reaches a stream held on another
// (two services on one PostgreSQL, and WORKERS=2), a quiet stream outlives Bun's 10 s idle timeout,
// and SIGTERM ends open streams at once so the drain does not wait for them. Runs `bun src/index.ts`,
// or the binary when TEST_BINARY is set.
import { afterAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { freePort } from "../harness/process.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { openStream } from "./events-helpers.ts";
import { driver, freshDatabase, TEST_SECRET, testBinary, tokenFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Service {
  base: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  lines: string[];
}

/** Starts the service and resolves once `listeners` processes log "listening". */
async function start(env: Record<string, string>, listeners = 1): Promise<Service> {
  const proc = Bun.spawn(testBinary ? [testBinary] : ["bun", "src/index.ts"], {
    env: { PATH: process.env.PATH, HOST: "127.0.0.1", PORT: "0", BETTER_AUTH_SECRET: TEST_SECRET, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  cleanups.push(() => {
    proc.kill("SIGKILL");
    return proc.exited;
  });
  const lines: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of proc.stdout) {
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const deadline = Date.now() + 45_000;
  let listening: string[] = [];
  while (listening.length < listeners) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`did not start:\n${lines.join("\n")}`);
    await Bun.sleep(50);
    listening = lines.filter((line) => line.includes('"msg":"listening"'));
  }
  const url = new URL(JSON.parse(listening[0]!).url);
  return { base: `http://127.0.0.1:${url.port}`, proc, lines };
}

async function postgresDatabase(): Promise<string> {
  const database = await freshDatabase();
  cleanups.push(() => database.close());
  return database.url!;
}

/** The database for a one-process test: this run's PostgreSQL, else an in-memory PGlite. */
const anyDatabase = async () => (driver === "postgres" ? postgresDatabase() : "memory://");

async function create(base: string, token: string, title: string): Promise<Task> {
  const response = await fetch(`${base}/api/tasks`, {
    method: "POST",
    // A new connection each time, so WORKERS=2 spreads the writes too.
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", connection: "close" },
    body: JSON.stringify({ title }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Task;
}

const stream = (base: string, token: string) => openStream(fetch, `${base}/api/tasks/events`, { token });

describe(`live events across processes (${driver})`, () => {
  // Several processes share only a PostgreSQL database.
  test.skipIf(driver !== "postgres")(
    "a write through one process reaches a stream held on another within 1 s",
    async () => {
      const url = await postgresDatabase();
      const [a, b] = await Promise.all([start({ DATABASE_URL: url }), start({ DATABASE_URL: url })]);
      const token = await tokenFor("across");
      const onA = await stream(a.base, token);
      expect(onA.status).toBe(200);
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const task = await create(b.base, token, `through b ${i}`);
        expect((await onA.waitFor(i + 1, 1000))[i]!.data).toEqual(task);
        expect(performance.now() - started).toBeLessThan(1000);
      }
      onA.close();
    },
    90_000,
  );

  test.skipIf(driver !== "postgres" || process.platform !== "linux")(
    "WORKERS=2: every stream, whichever worker holds it, gets every write within 1 s",
    async () => {
      const url = await postgresDatabase();
      const port = freePort();
      const service = await start({ DATABASE_URL: url, WORKERS: "2", PORT: String(port) }, 2);
      const token = await tokenFor("workers");
      // Four connections: the kernel spreads them over both workers.
      const streams = await Promise.all(Array.from({ length: 4 }, () => stream(service.base, token)));
      for (let i = 0; i < 6; i++) {
        const started = performance.now();
        const task = await create(service.base, token, `write ${i}`);
        for (const s of streams) expect((await s.waitFor(i + 1, 1000))[i]!.data).toEqual(task);
        expect(performance.now() - started).toBeLessThan(1000);
      }
      for (const s of streams) s.close();
    },
    90_000,
  );

  test("a quiet stream outlives Bun's 10 s idle timeout: comments keep it open for 25 s", async () => {
    const service = await start({ DATABASE_URL: await anyDatabase() });
    const token = await tokenFor("quiet");
    const quiet = await stream(service.base, token);
    expect(quiet.status).toBe(200);
    await Bun.sleep(25_000);
    expect(quiet.comments.filter((c) => c === "keep-alive").length).toBeGreaterThanOrEqual(2);
    const task = await create(service.base, token, "after 25 s");
    expect((await quiet.waitFor(1, 1000))[0]!.data).toEqual(task);
    quiet.close();
  }, 90_000);

  test("SIGTERM ends open streams at once; the process exits 0 without waiting out its drain", async () => {
    const service = await start({ DATABASE_URL: await anyDatabase() });
    const token = await tokenFor("shutdown");
    const streams = await Promise.all(Array.from({ length: 3 }, () => stream(service.base, token)));
    await create(service.base, token, "seen before shutdown");
    for (const s of streams) await s.waitFor(1, 2000);
    const signalled = performance.now();
    service.proc.kill("SIGTERM");
    for (const s of streams) await s.ended(5000);
    expect(await service.proc.exited).toBe(0);
    // The drain allows 10 s; streams must not hold it.
    expect(performance.now() - signalled).toBeLessThan(5000);
    const ends = service.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.route === "/api/tasks/events");
    expect(ends).toHaveLength(3);
    for (const end of ends) expect(end).toMatchObject({ status: 200, events_sent: 1, end: "shutdown" });
  }, 90_000);
});
