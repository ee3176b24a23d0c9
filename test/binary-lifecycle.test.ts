// The compiled executable's life on an embedded data directory: stopped while it starts, two of it
// on one DATA_DIR, killed and started again, a DATA_DIR it cannot write, the modes of its files.
// The executable is TEST_BINARY when set, else a fresh `bun run build`. Run on the PGlite target
// only: the data directory is PGlite's, and every target would run the same thing again.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningProcess, startProcess } from "../harness/process.ts";
import { driver, TEST_SECRET, testBinary, tokenFor } from "./helpers.ts";
import { rawHttp } from "./support/raw-http.ts";

const STOP_WITHIN_MS = 1000;
const SIGTERM_BIT = 1n << 14n; // signal 15 in /proc/<pid>/status's SigCgt mask

// 0755 all the way down, so that a user other than root can run the copy (the unwritable case).
const dir = mkdtempSync(join(tmpdir(), "todo-api-lifecycle-"));
chmodSync(dir, 0o755);
const binary = join(dir, "bin", "todo-api");
const env = (dataDir: string) => ({ NODE_ENV: "production", BETTER_AUTH_SECRET: TEST_SECRET, DATA_DIR: dataDir });
const running: RunningProcess[] = [];

beforeAll(() => {
  mkdirSync(join(dir, "bin"), { mode: 0o755 });
  if (!testBinary) {
    const build = Bun.spawnSync(["bun", "run", "build"], { cwd: join(import.meta.dir, ".."), stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`bun run build failed:\n${build.stderr}`);
  }
  copyFileSync(testBinary ?? join(import.meta.dir, "../dist/todo-api"), binary);
  chmodSync(binary, 0o755);
}, 120_000);

afterAll(() => {
  for (const server of running) server.proc.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function serve(dataDir: string, extra: Record<string, string> = {}): Promise<RunningProcess> {
  const server = await startProcess([binary], { cwd: dir, env: { ...env(dataDir), ...extra }, timeoutMs: 60_000 });
  running.push(server);
  return server;
}

/** Spawned with piped output, for a process stopped before it listens. */
function spawn(dataDir: string, args: string[] = []) {
  return Bun.spawn([binary, ...args], {
    cwd: dir,
    env: { ...env(dataDir), PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** Resolves once `pid` has a SIGTERM handler: from then on a SIGTERM is the program's to handle. */
async function armed(pid: number) {
  for (;;) {
    const status = await Bun.file(`/proc/${pid}/status`)
      .text()
      .catch(() => "");
    const mask = status.match(/^SigCgt:\s+([0-9a-f]+)$/m)?.[1];
    if (mask === undefined) throw new Error(`process ${pid} is gone`);
    if (BigInt(`0x${mask}`) & SIGTERM_BIT) return;
    await Bun.sleep(1);
  }
}

/** SIGTERM now; the exit code (null: killed by the signal) and how long the exit took. */
async function terminate(proc: ReturnType<typeof spawn>) {
  const signalled = performance.now();
  proc.kill("SIGTERM");
  await proc.exited;
  return { code: proc.exitCode, ms: performance.now() - signalled };
}

async function tasks(url: string, token: string) {
  const res = await fetch(`${url}/api/tasks`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { title: string }[]).map((task) => task.title);
}

async function create(url: string, token: string, title: string) {
  const res = await fetch(`${url}/api/tasks`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ title }),
  });
  expect(res.status).toBe(201);
}

describe.skipIf(driver !== "pglite" || process.platform !== "linux")(
  "the compiled binary's data directory and stops (only on the PGlite target, on Linux)",
  () => {
    const dataDir = join(dir, "data");

    test("SIGTERM during the first setup of a new DATA_DIR: exit 0 within 1 s; the next start makes the database, files owner-only", async () => {
      const proc = spawn(dataDir);
      // The setup marker appears once the directory is locked and its database is being made.
      while (!existsSync(join(dataDir, "todo-api.setup"))) {
        if (proc.exitCode !== null) throw new Error(`exited: ${await new Response(proc.stderr).text()}`);
        await Bun.sleep(5);
      }
      const stopped = await terminate(proc);
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(STOP_WITHIN_MS);
      expect(await new Response(proc.stdout).text()).toContain('"msg":"stopped during start-up"');

      const server = await serve(dataDir);
      const token = await tokenFor("lifecycle");
      await create(server.url, token, "made after an interrupted setup");
      expect(await tasks(server.url, token)).toEqual(["made after an interrupted setup"]);
      expect(await server.stop()).toBe(0);
      expect(existsSync(join(dataDir, "todo-api.setup"))).toBe(false);
      // The extension bundles PGlite read while it started are gone, the interrupted start's too.
      expect(existsSync(join(dataDir, ".pglite-extensions"))).toBe(false);
      const readableByOthers = Bun.spawnSync(["find", dataDir, "-perm", "/077"]).stdout.toString();
      expect(readableByOthers).toBe("");
    }, 120_000);

    test("SIGTERM as soon as the process can take one, before it listens: exit 0 within 1 s", async () => {
      const proc = spawn(dataDir);
      await armed(proc.pid);
      const stopped = await terminate(proc);
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(STOP_WITHIN_MS);
      expect(await new Response(proc.stdout).text()).not.toContain('"msg":"listening"');
    }, 60_000);

    test("a second server, or `migrate`, on a DATA_DIR in use refuses at once: exit 1, one line naming the holder", async () => {
      const server = await serve(dataDir);
      for (const args of [[], ["migrate"]]) {
        const second = spawn(dataDir, args);
        expect(await second.exited).toBe(1);
        const stderr = await new Response(second.stderr).text();
        expect(stderr).toBe(
          `DATA_DIR ${dataDir} is in use by process ${server.proc.pid} on host ${hostname()} ` +
            `(since ${stderr.match(/since ([^)]+)\)/)?.[1]}): an embedded database belongs to one process. ` +
            "Stop that one first, give this one its own DATA_DIR, or use PostgreSQL (DATABASE_URL) for several\n",
        );
        expect(await new Response(second.stdout).text()).not.toContain('"msg":"listening"');
      }
      expect(await server.stop()).toBe(0);
    }, 60_000);

    test("killed with SIGKILL, it leaves no lock behind: the next start serves what was written", async () => {
      const token = await tokenFor("killed");
      const killed = await serve(dataDir);
      await create(killed.url, token, "written before SIGKILL");
      killed.proc.kill("SIGKILL");
      await killed.exited;
      const next = await serve(dataDir);
      expect(await tasks(next.url, token)).toEqual(["written before SIGKILL"]);
      expect(await next.stop()).toBe(0);
    }, 60_000);

    test("a request that never finishes does not hold a stop past SHUTDOWN_TIMEOUT: exit 0, database closed", async () => {
      const server = await serve(dataDir, { SHUTDOWN_TIMEOUT: "2" });
      const token = await tokenFor("slow");
      const port = Number(new URL(server.url).port);
      // A body announced but never sent: the request stays in flight until the drain gives up.
      const stuck = rawHttp(
        port,
        (write) =>
          write(
            `POST /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
              "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
          ),
        15_000,
      );
      await Bun.sleep(200);
      const signalled = performance.now();
      expect(await server.stop()).toBe(0);
      const ms = performance.now() - signalled;
      expect(ms).toBeGreaterThan(400); // the drain did wait for it
      expect(ms).toBeLessThan(3000);
      expect(server.lines().at(-1)).toContain('"msg":"stopped"');
      await stuck;
    }, 60_000);

    test("a DATA_DIR it cannot write: exit 1 and one line naming the path, the uid and what to do", async () => {
      const parent = join(dir, "readonly");
      mkdirSync(parent, { mode: 0o555 });
      chmodSync(parent, 0o555);
      const unwritable = join(parent, "data");
      // root writes anywhere: run as nobody then.
      const asRoot = process.getuid?.() === 0;
      const uid = asRoot ? 65534 : process.getuid!();
      const prefix = asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
      const proc = Bun.spawnSync([...prefix, binary], {
        cwd: dir,
        env: { ...env(unwritable), PORT: "0", HOST: "127.0.0.1" },
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(proc.exitCode).toBe(1);
      expect(proc.stderr.toString()).toBe(
        `DATA_DIR ${unwritable} cannot be written by uid ${uid} (EACCES): make it writable by that uid ` +
          `(chown ${uid} it, or mount a volume there), point DATA_DIR elsewhere, or set DATABASE_URL\n`,
      );
      expect(proc.stdout.toString()).not.toContain('"msg":"listening"');
    }, 60_000);
  },
);
