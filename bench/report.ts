// What `bun run bench` prints at the end: one table, a line per scenario and server, each checked
// against the targets of bench/README.md (PASS, or FAIL with the reasons).
import type { Measurement } from "./measure.ts";
import { MAX_P99_MS, MAX_PEAK_RSS_MB, MIN_AGAINST_RATIO, MIN_RATIO, type Scenario, type Target } from "./options.ts";

export interface Results {
  target: Target;
  results: Map<Scenario, Measurement>;
}

function verdict(
  scenario: Scenario,
  m: Measurement,
  baseline: Measurement | undefined,
  then: Measurement | undefined,
): string {
  const problems: string[] = [];
  const minRatio = MIN_RATIO[scenario];
  if (minRatio !== undefined && baseline && m.rps / baseline.rps < minRatio) problems.push(`ratio<${minRatio}`);
  if (then && m.rps / then.rps < MIN_AGAINST_RATIO) problems.push(`vs-then<${MIN_AGAINST_RATIO}`);
  if (m.p99 > MAX_P99_MS) problems.push(`p99>${MAX_P99_MS}ms`);
  if (m.errors > 0) problems.push("errors");
  if (m.rssMb > MAX_PEAK_RSS_MB) problems.push(`rss>${MAX_PEAK_RSS_MB}MB`);
  return problems.length === 0 ? "PASS" : `FAIL ${problems.join(" ")}`;
}

export function printTable(scenarios: Scenario[], all: Results[]) {
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
    "now/then",
    "verdict",
  ];
  const rows: string[][] = [];
  for (const scenario of scenarios) {
    for (const { target, results } of all) {
      const m = results.get(scenario);
      if (!m) continue;
      const reference = baseline?.get(scenario);
      const isBaseline = target.label === "baseline";
      // With --against, today's target beside the same variant at that commit.
      const then = all.find((a) => a.target.twinOf === target.label)?.results.get(scenario);
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
        then ? (m.rps / then.rps).toFixed(2) : "-",
        isBaseline ? "(ceiling)" : target.checkout ? "(then)" : verdict(scenario, m, reference, then),
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

export function printTargets() {
  console.log(
    `\ntargets (bench/README.md): ratio ≥ ${MIN_RATIO.list} list, ≥ ${MIN_RATIO.get} get, ≥ ${MIN_RATIO.create} create/toggle; ` +
      `with --against, now/then ≥ ${MIN_AGAINST_RATIO} every scenario; p99 ≤ ${MAX_P99_MS} ms; 0 errors; peak RSS ≤ ${MAX_PEAK_RSS_MB} MB`,
  );
}
