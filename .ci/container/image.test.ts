// The image built from the project's own Dockerfile, run with podman as a user would run it with
// Docker: .ci/container/run builds it and runs this file with PODMAN (the podman command with its
// storage and runtime options) and IMAGE set. Containers share the host's network and reach the
// host's PostgreSQL on 127.0.0.1:5432; each test's containers, volumes and databases are removed.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { SQL } from "bun";
import { freePort } from "../../harness/process.ts";
import { loadGenerator } from "../../test/support/load-generator.ts";
import { TEST_SECRET, tokenFor } from "../../test/support/tokens.ts";

const podmanCommand = (process.env.PODMAN ?? "").split(" ").filter(Boolean);
const image = process.env.IMAGE ?? "";
const postgresUrl = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
// Raising an rlimit is refused on these hosts, and bridge networking needs what they lack.
const RUN_OPTIONS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "host"];
const STOP_WITHIN_MS = 1000;

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 120_000);

// podman's own complaints (no systemd here to time the HEALTHCHECK), not the container's output.
const podmanNoise = /^time="[^"]*" level=\w+ msg=.*\n?/gm;

function podman(...args: string[]) {
  const proc = Bun.spawnSync([...podmanCommand, ...args], { stdout: "pipe", stderr: "pipe" });
  const stderr = proc.stderr.toString().replace(podmanNoise, "").trim();
  return { code: proc.exitCode, stdout: proc.stdout.toString().trim(), stderr };
}

let names = 0;
const unique = (what: string) => `todo-ci-${what}-${process.pid}-${++names}`;

function volume(): string {
  const name = unique("data");
  expect(podman("volume", "create", name).code).toBe(0);
  cleanups.push(() => podman("volume", "rm", "-f", name));
  return name;
}

async function database(): Promise<string> {
  const name = `todo_container_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = new SQL({ url: postgresUrl, max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.close();
  cleanups.push(async () => {
    const drop = new SQL({ url: postgresUrl, max: 1 });
    await drop.unsafe(`drop database if exists ${name} with (force)`);
    await drop.close();
  });
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.href;
}

interface Container {
  name: string;
  url: string;
  /** Resolves once GET /health answers 200; rejects if the container exits first. */
  up(): Promise<void>;
  exitCode(): number;
  logs(): string;
  /** The host pid of the service (PID 1 inside). */
  pid(): number;
}

/** `podman run -d` of the image with `options` (volume, -e, ...) on a free port of the host. */
function start(options: string[], args: string[] = []): Container {
  const name = unique("run");
  const port = freePort();
  const run = podman(
    "run",
    "-d",
    "--name",
    name,
    ...RUN_OPTIONS,
    "-e",
    `PORT=${port}`,
    "-e",
    `BETTER_AUTH_SECRET=${TEST_SECRET}`,
    ...options,
    image,
    ...args,
  );
  if (run.code !== 0) throw new Error(`podman run failed: ${run.stderr}`);
  cleanups.push(() => podman("rm", "-f", "-t", "0", name));
  const url = `http://127.0.0.1:${port}`;
  const inspect = (format: string) => podman("inspect", "--format", format, name).stdout;
  return {
    name,
    url,
    async up() {
      for (const started = Date.now(); Date.now() - started < 60_000; ) {
        const ok = await fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        if (inspect("{{.State.Status}}") === "exited") throw new Error(`exited:\n${podman("logs", name).stderr}`);
        await Bun.sleep(200);
      }
      throw new Error(`not up within 60 s:\n${podman("logs", name).stdout}`);
    },
    exitCode: () => Number(inspect("{{.State.ExitCode}}")),
    logs: () => {
      const logs = podman("logs", name);
      return `${logs.stdout}\n${logs.stderr}`;
    },
    pid: () => Number(inspect("{{.State.Pid}}")),
  };
}

/** `podman run --rm` in the foreground: exit code and output. */
function runOnce(options: string[], args: string[] = []) {
  const { code, stdout, stderr } = podman("run", "--rm", ...RUN_OPTIONS, ...options, image, ...args);
  return { code, output: `${stdout}\n${stderr}` };
}

/** `podman stop` (SIGTERM, SIGKILL 10 s later if still running): the exit code. */
function podmanStop(container: Container): number {
  podman("stop", "-t", "10", container.name);
  return container.exitCode();
}

/**
 * `signal` to the service (PID 1 in the container) straight from the host, as podman stop sends
 * it, and how long the service took to exit: timed without podman's own start-up, which takes
 * seconds on a loaded machine. Then the exit code podman saw.
 */
async function signalled(container: Container, signal: "SIGTERM" | "SIGINT") {
  const pid = container.pid();
  const started = performance.now();
  process.kill(pid, signal);
  const gone = () => {
    try {
      return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      return true;
    }
  };
  while (!gone() && performance.now() - started < 15_000) await Bun.sleep(5);
  const ms = Math.round(performance.now() - started);
  podman("wait", container.name);
  return { code: container.exitCode(), ms };
}

async function api(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await tokenFor("container-user")}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
}

const titles = async (url: string) =>
  ((await api(url, "GET", "/api/tasks")).body as { title: string }[]).map((t) => t.title).sort();

const secret = ["-e", `BETTER_AUTH_SECRET=${TEST_SECRET}`];

describe("the image", () => {
  test("runs as uid 65532; a named volume's /data belongs to that user, mode 0700, no file readable by others", async () => {
    const data = volume();
    const server = start(["-v", `${data}:/data`]);
    await server.up();
    expect(readFileSync(`/proc/${server.pid()}/status`, "utf8")).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    const mountpoint = podman("volume", "inspect", "--format", "{{.Mountpoint}}", data).stdout;
    const { uid, gid, mode } = statSync(mountpoint);
    expect({ uid, gid, mode: (mode & 0o777).toString(8) }).toEqual({ uid: 65532, gid: 65532, mode: "700" });
    const open = Bun.spawnSync(["find", mountpoint, "-perm", "/077"]).stdout.toString().trim();
    expect(open).toBe("");
    expect(podmanStop(server)).toBe(0);
  }, 120_000);

  test("PGlite on a named volume: a write survives a restart of the container and a new container", async () => {
    const data = volume();
    const first = start(["-v", `${data}:/data`]);
    await first.up();
    expect((await api(first.url, "POST", "/api/tasks", { title: "kept in the volume" })).status).toBe(201);
    expect(podmanStop(first)).toBe(0);
    expect(podman("start", first.name).code).toBe(0);
    await first.up();
    expect(await titles(first.url)).toEqual(["kept in the volume"]);
    expect(podmanStop(first)).toBe(0);
    const second = start(["-v", `${data}:/data`]);
    await second.up();
    expect(await titles(second.url)).toEqual(["kept in the volume"]);
    expect(podmanStop(second)).toBe(0);
  }, 180_000);

  test("a second container, or `migrate`, on a volume in use refuses at once: exit 1, one line naming the holder", async () => {
    const data = volume();
    const server = start(["-v", `${data}:/data`]);
    await server.up();
    for (const args of [[], ["migrate"]]) {
      const started = performance.now();
      const second = runOnce([...secret, "-v", `${data}:/data`], args);
      expect(second.code).toBe(1);
      expect(second.output.trim()).toStartWith("DATA_DIR /data is in use by process 1 on host ");
      expect(performance.now() - started).toBeLessThan(10_000);
    }
    expect(await titles(server.url)).toEqual([]);
    expect(podmanStop(server)).toBe(0);
  }, 120_000);

  test("a container killed with SIGKILL leaves no lock behind: the next one starts on the volume", async () => {
    const data = volume();
    const killed = start(["-v", `${data}:/data`]);
    await killed.up();
    expect((await api(killed.url, "POST", "/api/tasks", { title: "before the kill" })).status).toBe(201);
    podman("kill", "--signal", "SIGKILL", killed.name);
    podman("wait", killed.name);
    const next = start(["-v", `${data}:/data`]);
    await next.up();
    expect(await titles(next.url)).toEqual(["before the kill"]);
    expect(podmanStop(next)).toBe(0);
  }, 120_000);

  test("PostgreSQL through DATABASE_URL: migrate applies the migrations, the server uses them; no volume is left behind", async () => {
    const url = await database();
    const volumesBefore = podman("volume", "ls", "-q").stdout;
    const migrated = runOnce([...secret, "-e", `DATABASE_URL=${url}`], ["migrate"]);
    expect(migrated.code).toBe(0);
    expect(migrated.output).toContain('"msg":"migrations applied","database":"postgres"');
    const server = start(["-e", `DATABASE_URL=${url}`]);
    await server.up();
    expect((await api(server.url, "POST", "/api/tasks", { title: "in postgres" })).status).toBe(201);
    const sql = new SQL({ url, max: 1 });
    expect(await sql`select title from tasks`).toEqual([{ title: "in postgres" }]);
    await sql.close();
    expect(podmanStop(server)).toBe(0);
    podman("rm", server.name);
    expect(podman("volume", "ls", "-q").stdout).toBe(volumesBefore);
  }, 120_000);

  test("the HEALTHCHECK runs `todo-api healthcheck` (liveness, GET /health) and passes while the service runs", async () => {
    const config = JSON.parse(podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image).stdout);
    expect(config.Test).toEqual(["CMD", "/usr/local/bin/todo-api", "healthcheck"]);
    const data = volume();
    const server = start(["-v", `${data}:/data`]);
    await server.up();
    expect(podman("healthcheck", "run", server.name)).toMatchObject({ code: 0 });
    expect(podmanStop(server)).toBe(0);
  }, 120_000);

  test("--read-only root: serves with a volume on /data; without one, exit 1 with one line naming /data and uid 65532", async () => {
    const data = volume();
    const server = start(["--read-only", "-v", `${data}:/data`]);
    await server.up();
    expect((await api(server.url, "POST", "/api/tasks", { title: "read-only root" })).status).toBe(201);
    expect(podmanStop(server)).toBe(0);
    const bare = runOnce([...secret, "--read-only"]);
    expect(bare.code).toBe(1);
    expect(bare.output.trim()).toMatch(/^DATA_DIR \/data cannot be written by uid 65532 \(E[A-Z]+\): /);
  }, 120_000);

  test("production without a secret: exit 1 with the configuration message", () => {
    const { code, output } = runOnce([]);
    expect(code).toBe(1);
    expect(output).toContain("config: no token verification configured: set BETTER_AUTH_SECRET");
  }, 60_000);

  test.each(["SIGTERM", "SIGINT"] as const)(
    "%s once up: exit 0 within 1 s",
    async (signal) => {
      const data = volume();
      const server = start(["-v", `${data}:/data`]);
      await server.up();
      const stopped = await signalled(server, signal);
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(STOP_WITHIN_MS);
      expect(server.logs()).toContain('"msg":"stopped"');
    },
    120_000,
  );

  test("SIGTERM 0.3 s after start, during the first setup of an empty volume: exit 0 within 1 s; the next start makes the database", async () => {
    const data = volume();
    // nocopy: empty, not a copy of the image's made database, so the service runs initdb; U: ours.
    const early = start(["-v", `${data}:/data:nocopy,U`]);
    await Bun.sleep(300);
    const stopped = await signalled(early, "SIGTERM");
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(STOP_WITHIN_MS);
    const next = start(["-v", `${data}:/data:nocopy,U`]);
    await next.up();
    expect((await api(next.url, "POST", "/api/tasks", { title: "after an early stop" })).status).toBe(201);
    expect(podmanStop(next)).toBe(0);
  }, 120_000);

  test("SIGTERM 0.3 s after start on a made volume: exit 0 within 1 s", async () => {
    const data = volume();
    const first = start(["-v", `${data}:/data`]);
    await first.up();
    expect(podmanStop(first)).toBe(0);
    const early = start(["-v", `${data}:/data`]);
    await Bun.sleep(300);
    const stopped = await signalled(early, "SIGTERM");
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(STOP_WITHIN_MS);
  }, 120_000);

  test("PGlite under --memory 256m and a bounded load: every request answered, no OOM kill; peak printed", async () => {
    const data = volume();
    const server = start(["--memory", "256m", "--memory-swap", "256m", "-v", `${data}:/data`]);
    await server.up();
    const pid = server.pid();
    const kib = (field: string) =>
      Number(readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"))![1]);
    const idle = kib("VmRSS");
    const load = loadGenerator(server.url, await tokenFor("memory-load"), {
      writers: 6,
      readers: 4,
      maxRequests: 6000,
    });
    const results = await Promise.race([
      (async () => {
        while (load.results.length < 6000) await Bun.sleep(100);
        return load.stop();
      })(),
      Bun.sleep(60_000).then(() => load.stop()),
    ]);
    const peak = kib("VmHWM");
    const statuses = new Set(results.map((r) => r.status ?? r.error));
    console.log(
      `memory (PGlite, --memory 256m): RSS idle ${Math.round(idle / 1024)} MiB, peak ${Math.round(peak / 1024)} MiB after ${results.length} requests`,
    );
    expect([...statuses].sort()).toEqual([200, 201]);
    expect(podman("inspect", "--format", "{{.State.OOMKilled}}", server.name).stdout).toBe("false");
    expect(peak).toBeLessThan(256 * 1024);
    expect(podmanStop(server)).toBe(0);
  }, 180_000);
});
