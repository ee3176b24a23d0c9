// Everything a bench run makes (processes, databases, a temp dir) is removed however the run ends:
// at its end, on Ctrl-C, or when a watchdog finds it has run longer than its phases, each bounded,
// can take together.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type BenchOptions, ROOT } from "./options.ts";
import { dropDatabases } from "./seed.ts";

/** Killed if the run ends early: whoever starts a process adds it, and deletes it once it stopped. */
export const children = new Set<Subprocess>();
/** Dropped at the end: whoever creates a database adds it. */
export const databases: string[] = [];
/** Git worktrees of `--against`, removed at the end. */
export const worktrees: string[] = [];

export interface Guard {
  /** A temp dir for the run's files. */
  work: string;
  /** Stops the watchdog, then kills, drops and removes what is left. */
  end(): Promise<void>;
}

/** How long `bun run bench` may take: its phases, each bounded, added up. */
export function benchBudgetSeconds({
  targets,
  against,
  scenarios,
  warmup,
  duration,
  sliceCount,
  withEvents,
}: BenchOptions): number {
  const secondsPerTarget = 30 + scenarios.length * (warmup + duration + sliceCount + 3) + (withEvents ? 120 : 0);
  // --against adds a target beside each service target, and a checkout with its packages.
  const againstTargets = against ? targets.filter((t) => t.label.startsWith("service")).length : 0;
  return 60 + (targets.length + againstTargets) * secondsPerTarget + (against ? 120 : 0);
}

/** Arms the watchdog for `budgetSeconds` and removes what the run makes on `serverUrl` at its end. */
export function guard(serverUrl: string, budgetSeconds: number): Guard {
  const work = mkdtempSync(join(tmpdir(), "todo-bench-"));
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const child of children) child.kill("SIGKILL");
      await dropDatabases(serverUrl, databases).catch((error) =>
        console.error(`bench: could not drop ${databases.join(", ")}: ${error}`),
      );
      for (const dir of worktrees) Bun.spawnSync(["git", "worktree", "remove", "--force", dir], { cwd: ROOT });
      rmSync(work, { recursive: true, force: true });
    })();
    return cleaning;
  };
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
  return {
    work,
    end: () => {
      clearTimeout(watchdog);
      return cleanup();
    },
  };
}
