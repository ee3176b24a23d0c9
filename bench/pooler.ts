// What each way of reaching PostgreSQL costs per request, for docs/scaling.md:
//
//   bun bench/pooler.ts [--seconds 5] [--modes direct-named,direct-unnamed,pgbouncer-transaction,...]
//
// A PostgreSQL cluster of its own in a temp dir (pg_stat_statements loaded, planning tracked), the
// bench's seeded data (bench/seed.ts) copied per mode, the service from source started per mode,
// Debian's PgBouncer or HAProxy where the mode has one, and per scenario wrk (bench/wrk.lua) for
// --seconds. Prints per mode and scenario: requests/s, p50/p99, CPU per request of the service, of
// PostgreSQL and of PgBouncer or HAProxy, and from pg_stat_statements the statements per request and their
// planning and execution time. Needs wrk, pgbouncer and PostgreSQL's binaries; removes all it made.
import { chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SQL } from "bun";
import { type Haproxy, startHaproxy } from "../harness/haproxy.ts";
import { type PgBouncer, startPgBouncer } from "../harness/pgbouncer.ts";
import { freePort, startProcess } from "../harness/process.ts";
import { children } from "./cleanup.ts";
import { runWrk } from "./measure.ts";
import { cpuSeconds, processTree } from "./proc.ts";
import { copyDatabase, luaData, seedTemplate } from "./seed.ts";
import { SERVER_LOG_TAIL } from "./servers.ts";

const MODES = {
  "direct-named": { pooler: "none", bouncer: undefined, balancer: false },
  "direct-unnamed": { pooler: "transaction", bouncer: undefined, balancer: false },
  "pgbouncer-transaction": { pooler: "transaction", bouncer: "transaction", balancer: false },
  "pgbouncer-session": { pooler: "none", bouncer: "session", balancer: false },
  // What the load balancer adds: HAProxy (harness/haproxy.ts's settings) in front of direct-named.
  "haproxy-direct-named": { pooler: "none", bouncer: undefined, balancer: true },
} as const;
type Mode = keyof typeof MODES;
const SCENARIOS = ["list", "get", "toggle", "update", "create"] as const;
const LOAD = { threads: "2", connections: "32" };

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    modes: { type: "string", default: Object.keys(MODES).join(",") },
  },
});
const seconds = Number(values.seconds);
const modes = values.modes!.split(",") as Mode[];
const ROOT = join(import.meta.dir, "..");

const as = (cmd: string[]) =>
  process.getuid?.() === 0 ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", ...cmd] : cmd;
function run(cmd: string[]) {
  const result = Bun.spawnSync(as(cmd), { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${result.stderr}`);
}

const bin = join("/usr/lib/postgresql", readdirSync("/usr/lib/postgresql").sort().at(-1)!, "bin");
const dir = mkdtempSync(join(tmpdir(), "todo-api-pooler-bench-"));
if (process.getuid?.() === 0) {
  const id = (flag: string) => Number(Bun.spawnSync(["id", flag, "postgres"]).stdout.toString().trim());
  chownSync(dir, id("-u"), id("-g"));
}
const pgPort = freePort();
run([`${bin}/initdb`, "-D", join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync"]);
run([
  `${bin}/pg_ctl`,
  "-D",
  join(dir, "data"),
  "-l",
  join(dir, "log"),
  "-w",
  "-o",
  `-c listen_addresses=127.0.0.1 -p ${pgPort} -k ${dir} -c shared_preload_libraries=pg_stat_statements ` +
    "-c pg_stat_statements.track_planning=on -c pg_stat_statements.max=10000",
  "start",
]);
const serverUrl = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
const postmaster = Number((await Bun.file(join(dir, "data", "postmaster.pid")).text()).split("\n")[0]);

const helpers = new Set<PgBouncer | Haproxy>();
async function cleanup() {
  for (const child of children) child.kill("SIGKILL");
  for (const helper of helpers) await helper.stop().catch(() => {});
  Bun.spawnSync(as([`${bin}/pg_ctl`, "-D", join(dir, "data"), "-m", "immediate", "-w", "stop"]));
  rmSync(dir, { recursive: true, force: true });
}
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

try {
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const data = await seedTemplate(serverUrl, "pooler_template", secret);
  const dataPath = join(dir, "data.lua");
  writeFileSync(dataPath, luaData(data));
  const admin = new SQL({ url: serverUrl, max: 1 });
  await admin`create extension if not exists pg_stat_statements`;

  console.log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  console.log(
    "mode                   scenario  req/s  p50 ms  p99 ms  errors  srv µs/req  pg µs/req  pgb/lb µs/req  stmts/req  plan µs/stmt  exec µs/stmt",
  );
  for (const mode of modes) {
    const { pooler, bouncer: poolMode, balancer } = MODES[mode];
    const name = `pooler_${mode.replaceAll("-", "_")}`;
    const direct = await copyDatabase(serverUrl, "pooler_template", name);
    const bouncer = poolMode ? await startPgBouncer(direct, { poolMode, poolSize: 20 }) : undefined;
    if (bouncer) helpers.add(bouncer);
    const port = freePort();
    const server = await startProcess(["bun", "src/index.ts"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        PORT: String(port),
        HOST: "127.0.0.1",
        NODE_ENV: "production",
        LOG_LEVEL: "warn",
        BETTER_AUTH_SECRET: secret,
        DATABASE_URL: bouncer?.url ?? direct,
        DATABASE_DIRECT_URL: direct,
        DATABASE_POOLER: pooler,
      },
      // LOG_LEVEL=warn: no "listening" line to wait for.
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
      keepLines: SERVER_LOG_TAIL,
      timeoutMs: 10_000,
    });
    const { proc } = server;
    children.add(proc);
    const haproxy = balancer ? await startHaproxy([{ name: "r1", port }]) : undefined;
    if (haproxy) helpers.add(haproxy);
    const base = haproxy?.url ?? `http://127.0.0.1:${port}`;
    await ready(base);
    const helperPid = bouncer?.pid ?? haproxy?.pid;
    for (const scenario of SCENARIOS) {
      await runWrk(base, scenario, 1, dataPath, LOAD); // warm-up: connections opened, statements planned
      await admin`select pg_stat_statements_reset()`;
      const cpu0 = [
        cpuSeconds([proc.pid]),
        cpuSeconds(processTree(postmaster)),
        helperPid ? cpuSeconds([helperPid]) : 0,
      ];
      const { result } = await runWrk(base, scenario, seconds, dataPath, LOAD);
      const cpu1 = [
        cpuSeconds([proc.pid]),
        cpuSeconds(processTree(postmaster)),
        helperPid ? cpuSeconds([helperPid]) : 0,
      ];
      const [stats] = await admin`
        select coalesce(sum(calls), 0)::float8 as calls, coalesce(sum(total_plan_time), 0)::float8 as plan_ms,
               coalesce(sum(total_exec_time), 0)::float8 as exec_ms
        from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname = ${name} and s.query not like '%pg_stat_statements%'`;
      const perRequest = (seconds: number) => ((seconds * 1e6) / result.requests).toFixed(0);
      console.log(
        [
          mode.padEnd(22),
          scenario.padEnd(8),
          String(Math.round(result.requests / (result.duration_us / 1e6))).padStart(6),
          (result.p50_us / 1000).toFixed(2).padStart(7),
          (result.p99_us / 1000).toFixed(2).padStart(7),
          String(result.status + result.connect + result.read + result.write + result.timeout).padStart(7),
          perRequest(cpu1[0]! - cpu0[0]!).padStart(11),
          perRequest(cpu1[1]! - cpu0[1]!).padStart(10),
          (helperPid ? perRequest(cpu1[2]! - cpu0[2]!) : "-").padStart(11),
          (stats.calls / result.requests).toFixed(2).padStart(10),
          ((stats.plan_ms * 1000) / Math.max(1, stats.calls)).toFixed(1).padStart(13),
          ((stats.exec_ms * 1000) / Math.max(1, stats.calls)).toFixed(1).padStart(13),
        ].join(" "),
      );
    }
    await server.stop();
    children.delete(proc);
    for (const helper of [bouncer, haproxy]) {
      if (!helper) continue;
      await helper.stop();
      helpers.delete(helper);
    }
  }
  await admin.close();
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
} finally {
  await cleanup();
}

async function ready(base: string) {
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${base}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await Bun.sleep(100);
  }
  throw new Error(`${base} did not become ready`);
}
