// `bun run bench`: seeds a fresh PostgreSQL database, starts the baseline (bench/baseline.ts), the
// service from source and the compiled binary (when dist/todo-api exists) one after another, each on
// its own copy of the same data, loads each with wrk from a separate process and prints one table
// with the service/baseline ratios checked against the targets of bench/README.md.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SQL, type Subprocess } from "bun";
import { type EventsResult, printEvents, runEventsBench } from "./events.ts";
import { cpuSeconds, peakRssMb, processTree, resetPeakRss } from "./proc.ts";
import { type BenchData, copyDatabase, databaseUrl, dropDatabases, luaData, seedTemplate } from "./seed.ts";
import { checkSync, isSyncScenario, SYNC_SCENARIOS, SYNC_SCRIPT, syncData, syncLua } from "./sync.ts";

const ROOT = resolve(import.meta.dir, "..");
// The sync scenarios (bench/sync.ts) read before the writes change what they revalidate.
const SCENARIOS = ["list", "get", "big", ...SYNC_SCENARIOS, "toggle", "update", "create"] as const;
type Scenario = (typeof SCENARIOS)[number];

// The targets of bench/README.md. Ratios are service requests/s over baseline requests/s.
const MIN_RATIO: Partial<Record<Scenario, number>> = { list: 0.8, get: 0.7, create: 0.7, toggle: 0.7 };
const MAX_P99_MS = 25;
const MAX_PEAK_RSS_MB = 100;

const { values: options } = parseArgs({
  options: {
    servers: { type: "string", default: "baseline,service,binary" },
    // events: bench/events.ts, after the others, on each server but the baseline.
    scenarios: { type: "string", default: [...SCENARIOS, "events"].join(",") },
    workers: { type: "string", default: "1" },
    "log-level": { type: "string", default: "info" },
    env: { type: "string", multiple: true, default: [] },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    slices: { type: "string", default: "5" },
    connections: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
    profile: { type: "string" },
    "database-url": {
      type: "string",
      default: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
    help: { type: "boolean", default: false },
  },
});

if (options.help) {
  console.log(`bun run bench [--servers baseline,service,binary] [--scenarios ${SCENARIOS.join(",")},events]
  [--workers 1[,2,auto]] [--log-level info[,silent]] [--duration 10] [--warmup 2] [--slices 5]
  [--connections 64] [--threads 2] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
  [--profile DIR] [--env NAME=VALUE ...]
--workers and --log-level take lists: the service (and binary) run once per combination.
--env sets a variable for the service and binary (e.g. --env DB_POOL_MAX=20), and names it in the label.
--profile writes CPU profiles of the baseline and the service from source (bun --cpu-prof,
  .cpuprofile and .md) into DIR; run one scenario to see that scenario's hot path, then
  bun bench/profile.ts DIR/<file>.cpuprofile.`);
  process.exit(0);
}

const list = (value: string) =>
  value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
const duration = Number(options.duration);
const warmup = Number(options.warmup);
const sliceCount = Number(options.slices);
const withEvents = list(options.scenarios).includes("events");
const scenarios = list(options.scenarios).filter((s) => s !== "events") as Scenario[];
for (const s of scenarios)
  if (!SCENARIOS.includes(s)) fail(`unknown scenario "${s}"; known: ${SCENARIOS.join(", ")}, events`);
const serverUrl = options["database-url"];

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

if (!Bun.which("wrk")) {
  fail(
    "wrk is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk (macOS: brew install wrk)",
  );
}

interface Target {
  label: string;
  cmd: string[];
  env: Record<string, string>;
}

const binary = join(ROOT, "dist", "todo-api");
const extraEnv: Record<string, string> = {};
for (const pair of options.env) {
  const at = pair.indexOf("=");
  if (at < 1) fail(`--env ${pair}: expected NAME=VALUE`);
  extraEnv[pair.slice(0, at)] = pair.slice(at + 1);
}
const profileArgs = options.profile
  ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${resolve(options.profile)}`]
  : [];
const targets: Target[] = [];
for (const server of list(options.servers)) {
  if (server === "baseline") {
    targets.push({
      label: "baseline",
      cmd: [process.execPath, ...profileArgs, join(ROOT, "bench", "baseline.ts")],
      env: {},
    });
    continue;
  }
  if (server !== "service" && server !== "binary") fail(`unknown server "${server}"; known: baseline, service, binary`);
  if (server === "binary" && !existsSync(binary)) {
    console.log(`bench: ${binary} not built (bun run build); skipping the binary`);
    continue;
  }
  for (const workers of list(options.workers)) {
    for (const logLevel of list(options["log-level"])) {
      const variant = [
        workers !== "1" && `workers=${workers}`,
        logLevel !== "info" && `log=${logLevel}`,
        ...options.env,
      ]
        .filter(Boolean)
        .join(" ");
      targets.push({
        label: variant ? `${server} ${variant}` : server,
        cmd: server === "binary" ? [binary] : [process.execPath, ...profileArgs, join(ROOT, "src", "index.ts")],
        env: { ...extraEnv, WORKERS: workers, LOG_LEVEL: logLevel, NODE_ENV: "production" },
      });
    }
  }
}
if (targets.length === 0) fail("nothing to run");

// Every phase is bounded; this catches anything that is not (a server that never stops, a hung query).
const SECONDS_PER_TARGET = 30 + scenarios.length * (warmup + duration + sliceCount + 3) + (withEvents ? 120 : 0);
const budgetSeconds = 60 + targets.length * SECONDS_PER_TARGET;
const children = new Set<Subprocess>();
const databases: string[] = [];
const work = mkdtempSync(join(tmpdir(), "todo-bench-"));
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) child.kill("SIGKILL");
    await dropDatabases(serverUrl, databases).catch((error) =>
      console.error(`bench: could not drop ${databases.join(", ")}: ${error}`),
    );
    rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}
const watchdog = setTimeout(async () => {
  console.error(`bench: exceeded ${budgetSeconds} s; stopping`);
  await cleanup();
  process.exit(1);
}, budgetSeconds * 1000);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await cleanup();
    process.exit(130);
  });
}

interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  rssMb: number;
  serverCpu: number;
  /** Server CPU time per request: what decides throughput once the server is the bottleneck. */
  cpuPerRequestUs: number;
  postgresCpu: number;
  wrkCpu: number;
}

interface WrkResult {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p99_us: number;
}

function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

async function runWrk(
  base: string,
  scenario: Scenario,
  seconds: number,
  dataPath: string,
): Promise<{ result: WrkResult; cpu: number }> {
  const proc = Bun.spawn(
    [
      "wrk",
      "-t",
      options.threads,
      "-c",
      options.connections,
      "-d",
      `${seconds}s`,
      "--timeout",
      "2s",
      "-s",
      isSyncScenario(scenario) ? SYNC_SCRIPT : join(ROOT, "bench", "wrk.lua"),
      base,
      "--",
      scenario,
      dataPath,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  children.add(proc);
  const timer = setTimeout(() => proc.kill("SIGKILL"), (seconds + 15) * 1000);
  const [out, err] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
  clearTimeout(timer);
  children.delete(proc);
  const line = out.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (!line) throw new Error(`wrk ${scenario} gave no result (exit ${proc.exitCode}): ${err || out}`);
  return {
    result: JSON.parse(line.slice("BENCH_RESULT ".length)) as WrkResult,
    cpu: Number(proc.resourceUsage()?.cpuTime.total ?? 0) / 1e6,
  };
}

async function startServer(target: Target, url: string, secret: string, logPath: string) {
  const port = freePort();
  const log = openSync(logPath, "w");
  const proc = Bun.spawn(target.cmd, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...target.env,
      DATABASE_URL: url,
      BETTER_AUTH_SECRET: secret,
      HOST: "127.0.0.1",
      PORT: String(port),
    },
    stdout: log,
    stderr: log,
  });
  closeSync(log);
  children.add(proc);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && proc.exitCode === null) {
    const up = await fetch(`${base}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { proc, base };
    await Bun.sleep(100);
  }
  proc.kill("SIGKILL");
  children.delete(proc);
  throw new Error(`${target.label} did not start within 20 s:\n${readFileSync(logPath, "utf8").slice(-2000)}`);
}

async function stopServer(proc: Subprocess) {
  proc.kill("SIGTERM");
  const stopped = await Promise.race([proc.exited.then(() => true), Bun.sleep(12_000).then(() => false)]);
  if (!stopped) {
    console.log("bench: server ignored SIGTERM for 12 s; killed");
    proc.kill("SIGKILL");
    await proc.exited;
  }
  children.delete(proc);
}

/** JSON with object keys sorted, so two servers' bodies compare whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/**
 * Every scenario's request answers as the contract says before it is loaded, and the read-only
 * ones answer exactly what the first server answered (same data, so the same bytes modulo key
 * order): a server cannot look fast by answering something else.
 */
async function smokeTest(base: string, data: BenchData, reference: Map<string, string>) {
  const user = data.users[0]!;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const headers: Record<string, string> = auth(token);
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { response, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  const expect = (ok: boolean, what: string, got: string) => {
    if (!ok) throw new Error(`${what}: ${got.slice(0, 500)}`);
  };
  const reads = {
    list: ["/api/tasks?status=pending&limit=50", user.token],
    get: [`/api/tasks/${user.taskIds[0]}`, user.token],
    big: ["/api/tasks?status=pending&limit=50", data.big.token],
  } as const;
  for (const [name, [path, token]] of Object.entries(reads)) {
    const { response, text, json } = await call("GET", path, token);
    expect(response.status === 200, `${name} answered ${response.status}`, text);
    const got = canonical({ total: response.headers.get("x-total-count"), body: json });
    const want = reference.get(name);
    if (want === undefined) reference.set(name, got);
    else
      expect(
        got === want,
        `${name} differs from the first server's answer`,
        `${got.slice(0, 240)}\n  first: ${want.slice(0, 240)}`,
      );
  }
  const created = await call("POST", "/api/tasks", user.token, { title: "Smoke test", priority: "low" });
  expect(
    created.response.status === 201 && created.response.headers.get("location") === `/api/tasks/${created.json?.id}`,
    `create answered ${created.response.status}`,
    created.text,
  );
  const toggled = await call("PATCH", `/api/tasks/${created.json?.id}/complete`, user.token);
  expect(
    toggled.response.status === 200 && toggled.json?.completed === true,
    `toggle answered ${toggled.response.status}`,
    toggled.text,
  );
  const updated = await call("PUT", `/api/tasks/${created.json?.id}`, user.token, {
    title: "Smoke test renamed",
    due_date: "2026-12-01T17:00:00.000Z",
  });
  expect(
    updated.response.status === 200 &&
      updated.json?.title === "Smoke test renamed" &&
      updated.json?.due_date === "2026-12-01T17:00:00.000Z",
    `update answered ${updated.response.status}`,
    updated.text,
  );
  const keys = (value: unknown) =>
    Object.keys(value as object)
      .sort()
      .join(",");
  const listed = JSON.parse(reference.get("get")!).body;
  expect(
    keys(updated.json) === keys(listed),
    "a written task has other fields than a read one",
    `${keys(updated.json)} vs ${keys(listed)}`,
  );
}

async function postgresBackends(admin: SQL, database: string): Promise<number[]> {
  const rows: { pid: number }[] = await admin`select pid from pg_stat_activity where datname = ${database}`;
  return rows.map((r) => r.pid);
}

interface Running {
  target: Target;
  proc: Subprocess;
  base: string;
  database: string;
  logPath: string;
  results: Map<Scenario, Measurement>;
}

/** A server on its own copy of the data, started and smoke-tested, ready to be loaded. */
async function startTarget(
  target: Target,
  index: number,
  template: string,
  data: BenchData,
  secret: string,
  reference: Map<string, string>,
): Promise<Running> {
  const database = `${template}_${index}`;
  databases.push(database);
  const url = await copyDatabase(serverUrl, template, database);
  const logPath = join(work, `${index}.log`);
  const { proc, base } = await startServer(target, url, secret, logPath);
  try {
    await smokeTest(base, data, reference);
  } catch (error) {
    await stopServer(proc);
    throw new Error(
      `${error instanceof Error ? error.message : error}\n  server log (tail):\n${readFileSync(logPath, "utf8").slice(-1500)}`,
    );
  }
  return { target, proc, base, database, logPath, results: new Map() };
}

/** Starts a new peak-RSS window, then loads the server unmeasured so its JIT has compiled the path. */
async function warmUp({ proc, base }: Running, scenario: Scenario, dataPath: string) {
  resetPeakRss(processTree(proc.pid));
  await runWrk(base, scenario, warmup, dataPath);
}

interface Slice {
  requests: number;
  seconds: number;
  errors: number;
  p50: number;
  p99: number;
  serverCpu: number;
  postgresCpu: number;
  wrkCpu: number;
}

async function measureSlice(
  { proc, base, database }: Running,
  scenario: Scenario,
  seconds: number,
  dataPath: string,
  admin: SQL,
): Promise<Slice> {
  const backends = await postgresBackends(admin, database);
  const serverCpu0 = cpuSeconds(processTree(proc.pid));
  const postgresCpu0 = cpuSeconds(backends);
  const { result, cpu } = await runWrk(base, scenario, seconds, dataPath);
  return {
    requests: result.requests,
    seconds: result.duration_us / 1e6,
    errors: result.status + result.connect + result.read + result.write + result.timeout,
    p50: result.p50_us / 1000,
    p99: result.p99_us / 1000,
    serverCpu: cpuSeconds(processTree(proc.pid)) - serverCpu0,
    postgresCpu: cpuSeconds(backends) - postgresCpu0,
    wrkCpu: cpu,
  };
}

/**
 * One scenario's slices as one measurement. wrk reports percentiles per run, so these two are
 * approximations: p50 is the slices' p50 weighted by their requests, p99 the highest slice's p99
 * (never below the true one).
 */
function combine(slices: Slice[], rssMb: number): Measurement {
  const sum = (pick: (s: Slice) => number) => slices.reduce((total, slice) => total + pick(slice), 0);
  const requests = sum((s) => s.requests);
  const seconds = sum((s) => s.seconds);
  return {
    rps: requests / seconds,
    p50: sum((s) => s.p50 * s.requests) / Math.max(1, requests),
    p99: Math.max(...slices.map((s) => s.p99)),
    errors: sum((s) => s.errors),
    rssMb,
    serverCpu: sum((s) => s.serverCpu) / seconds,
    cpuPerRequestUs: (sum((s) => s.serverCpu) * 1e6) / Math.max(1, requests),
    postgresCpu: sum((s) => s.postgresCpu) / seconds,
    wrkCpu: sum((s) => s.wrkCpu) / seconds,
  };
}

/** Stops the server, drops its database; the number of log lines it wrote. */
async function stopTarget({ proc, database, logPath }: Running): Promise<number> {
  await stopServer(proc);
  await dropDatabases(serverUrl, [database]);
  return readFileSync(logPath, "utf8").split("\n").length - 1;
}

function verdict(scenario: Scenario, m: Measurement, baseline: Measurement | undefined): string {
  const problems: string[] = [];
  const minRatio = MIN_RATIO[scenario];
  if (minRatio !== undefined && baseline && m.rps / baseline.rps < minRatio) problems.push(`ratio<${minRatio}`);
  if (m.p99 > MAX_P99_MS) problems.push(`p99>${MAX_P99_MS}ms`);
  if (m.errors > 0) problems.push("errors");
  if (m.rssMb > MAX_PEAK_RSS_MB) problems.push(`rss>${MAX_PEAK_RSS_MB}MB`);
  return problems.length === 0 ? "PASS" : `FAIL ${problems.join(" ")}`;
}

function printTable(all: { target: Target; results: Map<Scenario, Measurement> }[]) {
  const baseline = all.find((a) => a.target.label === "baseline")?.results;
  const header = [
    "scenario",
    "server",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "peak RSS MB",
    "cpu srv",
    "µs/req",
    "cpu pg",
    "cpu wrk",
    "ratio",
    "verdict",
  ];
  const rows: string[][] = [];
  for (const scenario of scenarios) {
    for (const { target, results } of all) {
      const m = results.get(scenario);
      if (!m) continue;
      const reference = baseline?.get(scenario);
      const isBaseline = target.label === "baseline";
      rows.push([
        scenario,
        target.label,
        m.rps.toFixed(0),
        m.p50.toFixed(2),
        m.p99.toFixed(2),
        String(m.errors),
        m.rssMb.toFixed(0),
        m.serverCpu.toFixed(2),
        m.cpuPerRequestUs.toFixed(0),
        m.postgresCpu.toFixed(2),
        m.wrkCpu.toFixed(2),
        isBaseline || !reference ? "-" : (m.rps / reference.rps).toFixed(2),
        isBaseline ? "(ceiling)" : verdict(scenario, m, reference),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  let previous = "";
  for (const row of rows) {
    if (previous && row[0] !== previous) console.log("");
    previous = row[0]!;
    console.log(line(row));
  }
}

const started = Date.now();
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
console.log(`bench: ${cpus().length} cores, load average ${load()}; ${targets.map((t) => t.label).join(", ")}`);
console.log(
  `bench: ${scenarios.length} scenarios × (${warmup} s warm-up + ${duration} s in ${sliceCount} slices taken in turn), ${options.connections} connections, ${options.threads} wrk threads`,
);

const exitCode = await (async () => {
  const admin = new SQL({ url: serverUrl, max: 1, connectionTimeout: 5 });
  try {
    await admin`select 1`;
  } catch (error) {
    fail(`PostgreSQL does not answer at ${serverUrl}: ${error}`);
  }
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const template = `todo_bench_${Date.now().toString(36)}_${process.pid}`;
  databases.push(template);
  const seedStart = Date.now();
  const data = await seedTemplate(serverUrl, template, secret);
  const dataPath = join(work, "data.lua");
  writeFileSync(dataPath, luaData(data));
  console.log(
    `bench: seeded ${data.users.length} users × ${data.users[0]!.taskIds.length} tasks + 1 user × 10,000 in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`,
  );

  // Every server is started first. Each scenario's measured seconds are cut into slices taken in
  // turn from each server (A B C A B C ...), so the numbers compared on a line share the same
  // moments: load from other work on the machine drifts within seconds, and run one after the
  // other the servers' numbers moved by ±40% between identical runs.
  const reference = new Map<string, string>();
  const running: Running[] = [];
  let failed = false;
  for (const [index, target] of targets.entries()) {
    try {
      running.push(await startTarget(target, index, template, data, secret, reference));
    } catch (error) {
      failed = true;
      console.error(`bench: ${target.label} failed: ${error instanceof Error ? error.message : error}`);
    }
  }
  const all: { target: Target; results: Map<Scenario, Measurement>; logLines: number }[] = [];
  const syncPath = join(work, "sync.lua");
  const served = running.filter((server) => server.target.label !== "baseline");
  try {
    if (scenarios.some(isSyncScenario) && served[0]) {
      const users = await syncData(databaseUrl(serverUrl, served[0].database), data);
      writeFileSync(syncPath, syncLua(users));
      for (const server of served) await checkSync(server.base, users);
    }
    for (const scenario of scenarios) {
      // The baseline has no ETags or feed.
      const loaded = isSyncScenario(scenario) ? served : running;
      const path = isSyncScenario(scenario) ? syncPath : dataPath;
      for (const server of loaded) await warmUp(server, scenario, path);
      const slices = new Map(loaded.map((server) => [server, [] as Slice[]]));
      for (let round = 0; round < sliceCount; round++) {
        for (const server of loaded)
          slices.get(server)!.push(await measureSlice(server, scenario, duration / sliceCount, path, admin));
      }
      for (const server of loaded) {
        const m = combine(slices.get(server)!, peakRssMb(processTree(server.proc.pid)));
        server.results.set(scenario, m);
        console.log(`  ${scenario.padEnd(7)} ${server.target.label.padEnd(24)} ${Math.round(m.rps)} req/s`);
      }
    }
  } finally {
    for (const server of running)
      all.push({ target: server.target, results: server.results, logLines: await stopTarget(server) });
  }
  await admin.close();
  printTable(all);
  if (withEvents) {
    const events: EventsResult[] = [];
    for (const target of targets)
      if (target.label !== "baseline") events.push(await runEventsBench({ ...target, serverUrl }));
    printEvents(events);
  }
  console.log(
    `\ntargets (bench/README.md): ratio ≥ ${MIN_RATIO.list} list, ≥ ${MIN_RATIO.get} get/create/toggle; p99 ≤ ${MAX_P99_MS} ms; 0 errors; peak RSS ≤ ${MAX_PEAK_RSS_MB} MB`,
  );
  for (const { target, logLines } of all)
    if (target.label !== "baseline") console.log(`${target.label}: ${logLines} log lines written`);
  console.log(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s, load average now ${load()}`);
  return failed ? 1 : 0;
})().finally(async () => {
  clearTimeout(watchdog);
  await cleanup();
});
process.exit(exitCode);
