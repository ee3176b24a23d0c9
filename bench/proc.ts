// What the bench reads about a server from /proc (Linux): its process tree (WORKERS > 1 forks),
// CPU time and peak resident memory.
import { readFileSync, writeFileSync } from "node:fs";

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture in use

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** `pid` and all its descendants that are alive. */
export function processTree(pid: number): number[] {
  const children = (read(`/proc/${pid}/task/${pid}/children`) ?? "").split(" ").filter(Boolean).map(Number);
  return [pid, ...children.flatMap(processTree)];
}

/** User + system CPU seconds of these processes so far (gone processes count 0). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = read(`/proc/${pid}/stat`);
    if (!stat) continue;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** Starts a new peak-RSS window (`echo 5 > clear_refs`); false if the kernel refused. */
export function resetPeakRss(pids: number[]): boolean {
  let ok = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Sum of VmHWM (peak RSS since start or the last reset) over these processes, in MB. */
export function peakRssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    const match = read(`/proc/${pid}/status`)?.match(/^VmHWM:\s+(\d+) kB/m);
    if (match) kb += Number(match[1]);
  }
  return kb / 1024;
}
