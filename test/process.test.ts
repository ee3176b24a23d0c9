// The service as a process: start-up, migrations under concurrency, readiness, graceful shutdown.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import journal from "../drizzle/meta/_journal.json";
import { driver, freshDatabase, type TestDatabase } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function start(env: Record<string, string>) {
  return Bun.spawn(["bun", "src/index.ts"], {
    env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/**
 * Reads the "listening" log line to learn the port the process was given. stdout is read to its
 * end even after that: leaving the loop would close the pipe, and the process would die of EPIPE
 * at its next line (the development curl line, a request log line).
 */
function listeningUrl(proc: ReturnType<typeof start>): Promise<string> {
  return new Promise((resolve, reject) => {
    void (async () => {
      const decoder = new TextDecoder();
      let seen = "";
      for await (const chunk of proc.stdout) {
        seen += decoder.decode(chunk);
        const line = seen.split("\n").find((l) => l.includes('"msg":"listening"'));
        if (line) resolve(JSON.parse(line).url.replace("0.0.0.0", "127.0.0.1"));
      }
      reject(new Error(`process exited before listening: ${seen}`));
    })();
  });
}

async function stop(proc: ReturnType<typeof start>) {
  proc.kill("SIGTERM");
  return proc.exited;
}

describe(`process (${driver})`, () => {
  // PGlite is one process's database by design; concurrent start-up only means something on PostgreSQL.
  test.skipIf(driver !== "postgres")(
    "4 processes started at once on an empty database all come up; migrations run once",
    async () => {
      const database: TestDatabase = await freshDatabase({ migrated: false });
      cleanups.push(() => database.close());
      const sql = new SQL({ url: database.url!, max: 1 });
      const procs = Array.from({ length: 4 }, () => start({ DATABASE_URL: database.url! }));
      const urls = await Promise.all(procs.map(listeningUrl));
      for (const url of urls) {
        const res = await fetch(`${url}health/ready`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ status: "ready", database: "up" });
      }
      expect(await Promise.all(procs.map(stop))).toEqual([0, 0, 0, 0]);
      const [{ count }] = await sql`select count(*)::int as count from drizzle.__drizzle_migrations`;
      // Once each: as many rows as migrations in drizzle/.
      expect(count).toBe(journal.entries.length);
      await sql.close();
    },
    60_000,
  );

  test.skipIf(driver !== "pglite")(
    "the embedded database lives under DATA_DIR and survives a restart",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "todo-api-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const dataDir = join(dir, "nested", "data");
      for (let run = 0; run < 2; run++) {
        const proc = start({ DATA_DIR: dataDir });
        const url = await listeningUrl(proc);
        const res = await fetch(`${url}health/ready`);
        expect(await res.json()).toEqual({ status: "ready", database: "up" });
        expect(await stop(proc)).toBe(0);
      }
      expect(await Bun.file(join(dataDir, "PG_VERSION")).exists()).toBe(true);
    },
    60_000,
  );

  test("a migration failure stops start-up with exit 1 and a clear message", async () => {
    const proc = start({ DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
    expect(await proc.exited).toBe(1);
    const out = await new Response(proc.stdout).text();
    expect(out).toContain('"msg":"migrations failed; not starting"');
    expect(out).not.toContain("listening");
  }, 30_000);
});
