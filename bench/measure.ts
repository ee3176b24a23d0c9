// How one scenario is measured on the running servers: wrk from a separate process, a warm-up,
// then the measured seconds cut into slices taken in turn from each server, with the CPU of the
// server, of its PostgreSQL backends and of wrk per slice, combined into one Measurement.
import { join } from "node:path";
import type { SQL } from "bun";
import { children } from "./cleanup.ts";
import { type BenchOptions, ROOT, type Scenario } from "./options.ts";
import { cpuSeconds, peakRssMb, processTree, resetPeakRss } from "./proc.ts";
import { requireQuiet, watchOutside } from "./quiet.ts";
import type { Running } from "./servers.ts";
import { isSyncScenario, SYNC_SCRIPT } from "./sync.ts";

export interface Measurement {
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

/** The line bench/wrk.lua and bench/sync.lua print after "BENCH_RESULT ". */
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

type Load = Pick<BenchOptions, "threads" | "connections">;

/** One wrk run of `scenario` against `base`: its result line, and the CPU wrk itself used. */
export async function runWrk(
  base: string,
  scenario: Scenario,
  seconds: number,
  dataPath: string,
  { threads, connections }: Load,
): Promise<{ result: WrkResult; cpu: number }> {
  const proc = Bun.spawn(
    [
      "wrk",
      "-t",
      threads,
      "-c",
      connections,
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

async function postgresBackends(admin: SQL, database: string): Promise<number[]> {
  const rows: { pid: number }[] = await admin`select pid from pg_stat_activity where datname = ${database}`;
  return rows.map((r) => r.pid);
}

async function measureSlice(
  { server, database, target }: Running,
  scenario: Scenario,
  seconds: number,
  dataPath: string,
  load: Load,
  admin: SQL,
): Promise<Slice> {
  const backends = await postgresBackends(admin, database);
  const serverCpu0 = cpuSeconds(processTree(server.proc.pid));
  const postgresCpu0 = cpuSeconds(backends);
  const outside = await watchOutside(admin);
  const { result, cpu } = await runWrk(server.url, scenario, seconds, dataPath, load);
  requireQuiet(await outside.stop(), `a slice of ${scenario} on ${target.label}`);
  return {
    requests: result.requests,
    seconds: result.duration_us / 1e6,
    errors: result.status + result.connect + result.read + result.write + result.timeout,
    p50: result.p50_us / 1000,
    p99: result.p99_us / 1000,
    serverCpu: cpuSeconds(processTree(server.proc.pid)) - serverCpu0,
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

/**
 * Warms each server up (a new peak-RSS window, then unmeasured load so its JIT has compiled the
 * path), then measures. The measured seconds are cut into slices taken in turn from each server
 * (A B C A B C ...), so the numbers compared on a line share the same moments: load from other
 * work on the machine drifts within seconds, and run one after the other the servers' numbers
 * moved by ±40% between identical runs.
 */
export async function measureScenario(
  servers: Running[],
  scenario: Scenario,
  dataPath: string,
  options: BenchOptions,
  admin: SQL,
): Promise<Map<Running, Measurement>> {
  for (const { server } of servers) {
    resetPeakRss(processTree(server.proc.pid));
    await runWrk(server.url, scenario, options.warmup, dataPath, options);
  }
  const slices = new Map(servers.map((server) => [server, [] as Slice[]]));
  for (let round = 0; round < options.sliceCount; round++) {
    for (const server of servers)
      slices
        .get(server)!
        .push(await measureSlice(server, scenario, options.duration / options.sliceCount, dataPath, options, admin));
  }
  const measured = new Map<Running, Measurement>();
  for (const running of servers) {
    const m = combine(slices.get(running)!, peakRssMb(processTree(running.server.proc.pid)));
    measured.set(running, m);
    console.log(`  ${scenario.padEnd(7)} ${running.target.label.padEnd(24)} ${Math.round(m.rps)} req/s`);
  }
  return measured;
}
