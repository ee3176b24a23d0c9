// Jobs that keep the database tidy (expired Idempotency-Key rows, old tombstones of the change
// feed, and on embedded PGlite a vacuum) run inside the service on a timer, so a deployment needs
// no cron beside it. Every replica runs the pruning jobs; their statements are bounded batches that
// skip rows another replica holds.
import { sql } from "drizzle-orm";
import type { Database } from "./client.ts";

export interface Job {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

/**
 * Calls `pruneBatch(batchSize)` until a batch deletes fewer rows than asked, at most `maxBatches`
 * times, so that no statement holds many locks or runs long and no run goes on forever. Returns
 * the rows deleted.
 */
export async function inBatches(
  pruneBatch: (batchSize: number) => Promise<number>,
  batchSize = 1000,
  maxBatches = 20,
): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const pruned = await pruneBatch(batchSize);
    deleted += pruned;
    if (pruned < batchSize) break;
  }
  return deleted;
}

/**
 * Runs each job every `everyMs` until stop(). Timers are unref'd (they never keep a process alive),
 * a job never overlaps itself, and a failed run is reported and tried again at the next tick.
 */
export function startHousekeeping(jobs: Job[], onError: (job: string, cause: unknown) => void): { stop(): void } {
  const timers = jobs.map((job) => {
    let running = false;
    const timer = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await job.run();
      } catch (cause) {
        onError(job.name, cause);
      } finally {
        running = false;
      }
    }, job.everyMs);
    timer.unref();
    return timer;
  });
  return { stop: () => timers.forEach(clearInterval) };
}

/**
 * Embedded PGlite runs no autovacuum (one backend, no workers), so without this its tables kept
 * every dead row and index entry, and the list's index-only scans read the heap more as pages went
 * unmarked (what migration 0009 prevents on PostgreSQL). Hourly: the database is held meanwhile,
 * for a time that grows with its rows (bench/notes/2026-12-06.md, G).
 */
export const embeddedVacuumJob = (db: Database): Job => ({
  name: "vacuuming the embedded database",
  everyMs: 60 * 60_000,
  run: () => db.execute(sql`vacuum (analyze)`),
});
