// WORKERS=N: one primary migrates and supervises, N workers share the port. Whether two workers
// are faster is measured by `bun run bench`, not here; this checks what the processes do.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { SQL } from "bun";
import { freePort } from "../harness/process.ts";
import { driver, freshDatabase, TEST_SECRET } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** An empty database (no migrations applied) and its URL. */
async function emptyDatabase(): Promise<string> {
  const database = await freshDatabase({ migrated: false });
  cleanups.push(() => database.close());
  return database.url!;
}

/** Starts the service with WORKERS=2 and resolves once both workers listen. */
async function startTwoWorkers(url: string) {
  const port = freePort();
  const proc = Bun.spawn(["bun", "src/index.ts"], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: "127.0.0.1",
      WORKERS: "2",
      DATABASE_URL: url,
      BETTER_AUTH_SECRET: TEST_SECRET,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const reader = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of proc.stdout) {
      rest += decoder.decode(chunk);
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const deadline = Date.now() + 20_000;
  while (lines.filter((l) => l.includes('"msg":"listening"')).length < 2) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`workers did not start: ${lines.join("\n")}`);
    await Bun.sleep(50);
  }
  const workers = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(" ").map(Number);
  return { proc, base: `http://127.0.0.1:${port}`, workers, lines, reader };
}

const messages = (lines: string[]) => lines.map((l) => JSON.parse(l).msg as string);

describe(`WORKERS (${driver})`, () => {
  // Several processes cannot share an embedded database; config refuses WORKERS > 1 without PostgreSQL.
  test.skipIf(driver !== "postgres" || process.platform !== "linux")(
    "two workers serve one port on a database the primary migrated once; SIGTERM stops all, exit 0",
    async () => {
      const url = await emptyDatabase();
      const { proc, base, workers, lines, reader } = await startTwoWorkers(url);
      expect(workers).toHaveLength(2);

      // New connections are spread over both workers; each answers with its own database pool.
      for (let i = 0; i < 8; i++) {
        const ready = await fetch(`${base}/health/ready`, { headers: { connection: "close" } });
        expect(await ready.json()).toEqual({ status: "ready", database: "up" });
      }

      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      await reader;
      // The primary's line, then each worker's; both workers and the primary say "stopped".
      expect(messages(lines).filter((m) => m === "stopped")).toHaveLength(3);
      const sql = new SQL({ url, max: 1 });
      const [{ count }] = await sql`select count(*)::int as count from drizzle.__drizzle_migrations`;
      await sql.close();
      const journal = JSON.parse(readFileSync("drizzle/meta/_journal.json", "utf8")) as { entries: unknown[] };
      expect(count).toBe(journal.entries.length);
    },
    60_000,
  );

  test.skipIf(driver !== "postgres" || process.platform !== "linux")(
    "a worker that dies on its own stops the other and the primary exits 1",
    async () => {
      const url = await emptyDatabase();
      const { proc, workers, lines, reader } = await startTwoWorkers(url);
      process.kill(workers[0]!, "SIGKILL");
      expect(await proc.exited).toBe(1);
      await reader;
      expect(messages(lines)).toContain("worker stopped on its own; stopping the others");
      expect(() => process.kill(workers[1]!, 0)).toThrow();
    },
    60_000,
  );
});
