// The compiled executable, copied alone into an empty directory, on the driver under test: its
// subcommands, its embedded migrations (and, on PGlite, its embedded PGlite assets), the API with a
// token, and a clean stop. The executable is TEST_BINARY when set, else a fresh `bun run build`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { startProcess } from "../harness/process.ts";
import { version } from "../package.json";
import { openDatabase } from "../src/db/client.ts";
import { driver, freshDatabase, postgresUrl, TEST_SECRET, testBinary, tokenFor } from "./helpers.ts";

const journal = (await Bun.file(join(import.meta.dir, "../drizzle/meta/_journal.json")).json()) as {
  entries: unknown[];
};
const dir = mkdtempSync(join(tmpdir(), "todo-api-binary-"));
let binary = testBinary ?? "";
/** The database settings every run of the binary in this file gets. */
const env: Record<string, string> = { NODE_ENV: "production", BETTER_AUTH_SECRET: TEST_SECRET };
const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];

beforeAll(async () => {
  if (!testBinary) {
    const build = Bun.spawnSync(["bun", "run", "build"], { cwd: join(import.meta.dir, ".."), stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`bun run build failed:\n${build.stderr}`);
    // Alone in its directory: the binary runs there, with nothing beside it to read.
    mkdirSync(join(dir, "bin"));
    binary = join(dir, "bin", "todo-api");
    copyFileSync(join(import.meta.dir, "../dist/todo-api"), binary);
    chmodSync(binary, 0o755);
  }
  if (postgresUrl) {
    // An empty database, so `migrate` has everything to do.
    const database = await freshDatabase({ migrated: false });
    cleanups.push(() => database.close());
    env.DATABASE_URL = database.url!;
  } else {
    env.DATA_DIR = join(dir, "data");
  }
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function run(...args: string[]) {
  const proc = Bun.spawnSync([binary, ...args], { cwd: dirname(binary), env, stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

/** The tables the migrations made, and how many migrations are recorded as applied. */
async function migratedState() {
  const tables =
    "select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name in ('users', 'tasks')";
  const applied = "select count(*)::int as n from drizzle.__drizzle_migrations";
  if (postgresUrl) {
    const client = new SQL({ url: env.DATABASE_URL!, max: 1 });
    const [[t], [a]] = [await client.unsafe(tables), await client.unsafe(applied)];
    await client.close();
    return { tables: t.n, applied: a.n };
  }
  // PGlite is one process's database: read it only while the binary is not running.
  const database = await openDatabase({ dataDir: env.DATA_DIR!, poolMax: 1 });
  const count = async (query: string) =>
    ((await database.db.execute(sql.raw(query))) as unknown as { rows: { n: number }[] }).rows[0]!.n;
  const state = { tables: await count(tables), applied: await count(applied) };
  await database.close();
  return state;
}

describe(`the compiled binary (${driver})`, () => {
  test("--version prints the package version", () => {
    expect(run("--version")).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  test("--help prints the usage with every command on stdout", () => {
    const { code, stdout, stderr } = run("--help");
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toStartWith("Usage: todo-api [command]");
    for (const command of ["serve", "migrate", "healthcheck"]) expect(stdout).toContain(`  ${command} `);
  });

  test.each(["frobnicate", "serve now", "--verbose"])(
    "`todo-api %s` is a usage error: usage on stderr, exit 2",
    (args) => {
      const { code, stdout, stderr } = run(...args.split(" "));
      expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
      expect(stderr).toContain("Usage: todo-api [command]");
    },
  );

  test("a .env and a bunfig.toml in its working directory are ignored: configuration is the environment only", () => {
    const stray = join(dir, "stray");
    mkdirSync(stray);
    writeFileSync(join(stray, ".env"), "LOG_LEVEL=loud\n");
    writeFileSync(join(stray, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
    writeFileSync(join(stray, "preload.ts"), `await Bun.write(${JSON.stringify(join(stray, "preloaded"))}, "ran");\n`);
    // healthcheck reads the configuration and nothing else: a loaded .env would stop it at "config:".
    const proc = Bun.spawnSync([binary, "healthcheck"], { cwd: stray, env: { ...env, PORT: "1" }, stderr: "pipe" });
    expect(proc.exitCode).toBe(1);
    expect(proc.stderr.toString()).toStartWith("healthcheck: http://127.0.0.1:1/health unreachable");
    expect(existsSync(join(stray, "preloaded"))).toBe(false);
  });

  test("migrate applies the embedded migrations to an empty database and exits 0; again, it has nothing to do", async () => {
    const first = run("migrate");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('"msg":"migrations applied"');
    expect(await migratedState()).toEqual({ tables: 2, applied: journal.entries.length });
    expect(run("migrate").code).toBe(0);
    expect(await migratedState()).toEqual({ tables: 2, applied: journal.entries.length });
  }, 60_000);

  test("serves the API with a token, answers healthcheck while up, exits 0 on SIGTERM; the tasks outlive a restart", async () => {
    const token = await tokenFor("binary-user");
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const server = await startProcess([binary], { cwd: dirname(binary), env });
    cleanups.push(() => void server.proc.kill());
    const call = (method: string, path: string, body?: unknown) =>
      fetch(new URL(path, server.url), {
        method,
        headers: auth,
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    const ready = await fetch(new URL("/health/ready", server.url));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", database: "up" });
    expect((await fetch(new URL("/api/tasks", server.url))).status).toBe(401);

    const created = await call("POST", "/api/tasks", { title: "ship the binary" });
    expect(created.status).toBe(201);
    const task = (await created.json()) as { id: string; title: string; completed: boolean };
    expect(task).toMatchObject({ title: "ship the binary", completed: false });
    expect(await (await call("GET", "/api/tasks")).json()).toEqual([task]);
    const toggled = await call("PATCH", `/api/tasks/${task.id}/complete`);
    expect(toggled.status).toBe(200);
    expect(await toggled.json()).toMatchObject({ id: task.id, completed: true });

    const port = new URL(server.url).port;
    expect(Bun.spawnSync([binary, "healthcheck"], { env: { ...env, PORT: port } }).exitCode).toBe(0);
    expect(await server.stop()).toBe(0);
    expect(server.lines().at(-1)).toContain('"msg":"stopped"');
    const down = Bun.spawnSync([binary, "healthcheck"], { env: { ...env, PORT: port }, stderr: "pipe" });
    expect(down.exitCode).toBe(1);
    expect(down.stderr.toString()).toStartWith(`healthcheck: http://127.0.0.1:${port}/health unreachable`);

    // Started again on the same database (on PGlite: the data dir it made), the task is still there.
    const again = await startProcess([binary], { cwd: dirname(binary), env });
    cleanups.push(() => void again.proc.kill());
    const [kept] = (await (await fetch(new URL("/api/tasks", again.url), { headers: auth })).json()) as {
      id: string;
      completed: boolean;
    }[];
    expect(kept).toMatchObject({ id: task.id, completed: true });
    const deleted = await fetch(new URL(`/api/tasks/${task.id}`, again.url), { method: "DELETE", headers: auth });
    expect(deleted.status).toBe(204);
    expect(await (await fetch(new URL("/api/tasks", again.url), { headers: auth })).json()).toEqual([]);
    expect(await again.stop()).toBe(0);
  }, 60_000);
});
