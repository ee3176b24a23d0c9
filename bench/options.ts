// What `bun run bench` was asked to do: its command line, the scenarios it knows, the servers it
// starts, and the targets of bench/README.md it checks them against. Whatever is wrong with the
// invocation ends the run here, with exit code 2, before anything is created.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SYNC_SCENARIOS } from "./sync.ts";

export const ROOT = resolve(import.meta.dir, "..");
// The sync scenarios (bench/sync.ts) read before the writes change what they revalidate.
export const SCENARIOS = ["list", "get", "big", ...SYNC_SCENARIOS, "toggle", "update", "create"] as const;
export type Scenario = (typeof SCENARIOS)[number];

// The targets of bench/README.md. Ratios are service requests/s over baseline requests/s.
export const MIN_RATIO: Partial<Record<Scenario, number>> = { list: 0.9, get: 1.0, create: 0.8, toggle: 0.8 };
// With --against: what today's code may cost against that commit, every scenario.
export const MIN_AGAINST_RATIO = 0.95;
export const MAX_P99_MS = 25;
export const MAX_PEAK_RSS_MB = 100;

/** A server to load: the baseline, or the service from source or compiled with one set of variables. */
export interface Target {
  label: string;
  cmd: string[];
  env: Record<string, string>;
  /** `--against`: the worktree of the commit this target runs (bench/against.ts). */
  checkout?: string;
  /** `--against`: the label of today's target this one is compared with. */
  twinOf?: string;
}

export interface BenchOptions {
  targets: Target[];
  /** `--against <git ref>`: that commit's service runs beside each service target. */
  against?: string;
  /** The wrk scenarios, in the order they run; `events` is apart (withEvents). */
  scenarios: Scenario[];
  withEvents: boolean;
  /** Measured seconds per scenario and server, cut into `sliceCount` slices. */
  duration: number;
  warmup: number;
  sliceCount: number;
  connections: string;
  threads: string;
  /** The PostgreSQL server the bench creates its databases on. */
  serverUrl: string;
}

export function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const HELP = `bun run bench [--servers baseline,service,binary] [--scenarios ${SCENARIOS.join(",")},events]
  [--workers 1[,2,auto]] [--log-level info[,silent]] [--duration 10] [--warmup 2] [--slices 5]
  [--connections 64] [--threads 2] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
  [--profile DIR] [--env NAME=VALUE ...] [--against GIT_REF]
--workers and --log-level take lists: the service (and binary) run once per combination.
--against runs that commit's service (from source, in a temporary worktree) beside the service, in the
  same slices, and prints "now / that commit" beside "now / baseline".
--env sets a variable for the service and binary (e.g. --env DB_POOL_MAX=20), and names it in the label.
--profile writes CPU profiles of the baseline and the service from source (bun --cpu-prof,
  .cpuprofile and .md) into DIR; run one scenario to see that scenario's hot path, then
  bun bench/profile.ts DIR/<file>.cpuprofile.`;

const list = (value: string) =>
  value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

export function parseOptions(): BenchOptions {
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
      against: { type: "string" },
      "database-url": {
        type: "string",
        default: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
      },
      help: { type: "boolean", default: false },
    },
  });
  if (options.help) {
    console.log(HELP);
    process.exit(0);
  }
  const scenarios = list(options.scenarios).filter((s) => s !== "events") as Scenario[];
  for (const s of scenarios)
    if (!SCENARIOS.includes(s)) fail(`unknown scenario "${s}"; known: ${SCENARIOS.join(", ")}, events`);
  if (!Bun.which("wrk")) {
    fail(
      "wrk is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk (macOS: brew install wrk)",
    );
  }
  const targets = targetsOf(options);
  if (targets.length === 0) fail("nothing to run");
  return {
    targets,
    against: options.against,
    scenarios,
    withEvents: list(options.scenarios).includes("events"),
    duration: Number(options.duration),
    warmup: Number(options.warmup),
    sliceCount: Number(options.slices),
    connections: options.connections,
    threads: options.threads,
    serverUrl: options["database-url"],
  };
}

function targetsOf(options: {
  servers: string;
  workers: string;
  "log-level": string;
  env: string[];
  profile?: string;
}): Target[] {
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
    if (server !== "service" && server !== "binary")
      fail(`unknown server "${server}"; known: baseline, service, binary`);
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
  return targets;
}
