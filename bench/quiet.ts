// A bench figure taken while anything else uses the CPU is noise, ratios included: on two cores a
// test run beside the bench moved the same server's requests/s by ±40%. So the bench watches every
// process it did not start, before the run and during every slice, and stops (exit 2) naming them
// when together they take more than OUTSIDE_CPU_LIMIT of a core.
import { readdirSync, readFileSync } from "node:fs";
import type { SQL } from "bun";
import { processTree } from "./proc.ts";

/** Share of one core that everything outside the bench may use while it measures. */
export const OUTSIDE_CPU_LIMIT = 0.05;
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcessTicks {
  name: string;
  ticks: number;
}

/** CPU ticks so far of every user-space process (kernel threads have no command line). */
function allProcesses(): Map<number, ProcessTicks> {
  const found = new Map<number, ProcessTicks>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`).length === 0) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      found.set(Number(entry), { name, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone between readdir and read
    }
  }
  return found;
}

/**
 * PostgreSQL processes that work for the bench: backends of its databases, its own admin session,
 * and the server's shared background processes (WAL writer, checkpointer), which its writes keep busy.
 */
async function benchBackends(admin: SQL): Promise<number[]> {
  const rows: { pid: number }[] = await admin`
    select pid from pg_stat_activity
    where datname like 'todo\_bench\_%' or backend_type <> 'client backend' or pid = pg_backend_pid()`;
  return rows.map((r) => r.pid);
}

export interface OutsideLoad {
  /** Cores used by processes outside the bench over the interval. */
  cores: number;
  /** The largest of them, as "name (pid) 12%". */
  top: string[];
}

/** Starts watching; `stop()` says what the rest of the machine used meanwhile. */
export async function watchOutside(admin: SQL): Promise<{ stop(): Promise<OutsideLoad> }> {
  const before = allProcesses();
  const started = performance.now();
  return {
    async stop() {
      const after = allProcesses();
      const seconds = (performance.now() - started) / 1000;
      const ours = new Set([...processTree(process.pid), ...(await benchBackends(admin))]);
      const outside: { label: string; cores: number }[] = [];
      for (const [pid, { name, ticks }] of after) {
        if (ours.has(pid)) continue;
        const used = (ticks - (before.get(pid)?.ticks ?? 0)) / CLOCK_TICKS_PER_SECOND / seconds;
        if (used > 0) outside.push({ label: `${name} (${pid})`, cores: used });
      }
      outside.sort((a, b) => b.cores - a.cores);
      return {
        cores: outside.reduce((sum, p) => sum + p.cores, 0),
        top: outside.slice(0, 5).map((p) => `${p.label} ${(p.cores * 100).toFixed(0)}%`),
      };
    },
  };
}

/** Thrown when the machine was not quiet; the run cleans up and exits 2. */
export class NotQuietError extends Error {}

export function requireQuiet(load: OutsideLoad, what: string) {
  if (load.cores <= OUTSIDE_CPU_LIMIT) return;
  throw new NotQuietError(
    `the machine is not quiet: during ${what}, processes outside the bench used ${(load.cores * 100).toFixed(0)}% of a core ` +
      `(limit ${OUTSIDE_CPU_LIMIT * 100}%): ${load.top.join(", ")}. Stop them and run again; figures taken beside them are noise.`,
  );
}
