// `bun run bench`: the service under load against a ceiling (bench/README.md). In order:
//   1. options.ts reads the command line into the servers ("targets") and scenarios to run;
//      cleanup.ts arms a watchdog and removes whatever the run makes, however it ends.
//   2. seed.ts seeds a template database on PostgreSQL.
//   3. servers.ts starts every target (the baseline, bench/baseline.ts; the service from source;
//      the compiled binary when dist/todo-api exists) on its own copy of that database, and
//      smoke.ts checks that each answers what the contract and the first server say.
//   4. measure.ts loads them with wrk, scenario by scenario, in slices taken in turn.
//   5. servers.ts stops them; report.ts prints one table with the service/baseline ratios checked
//      against the targets; events.ts then measures live event streams on each server but the baseline.
// Exit code: 0 when every server ran (whatever the verdicts), 1 when one failed, 2 on a bad invocation
// or a machine that was not quiet (quiet.ts).
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { againstTarget, checkOut } from "./against.ts";
import { benchBudgetSeconds, databases, guard } from "./cleanup.ts";
import { type EventsResult, printEvents, runEventsBench } from "./events.ts";
import { type Measurement, measureScenario } from "./measure.ts";
import { fail, parseOptions, type Scenario, type Target } from "./options.ts";
import { NotQuietError, requireQuiet, watchOutside } from "./quiet.ts";
import { printTable, printTargets, type Results } from "./report.ts";
import { databaseUrl, luaData, seedTemplate } from "./seed.ts";
import { type Running, startTarget, stopTarget } from "./servers.ts";
import { checkSync, isSyncScenario, syncData, syncLua } from "./sync.ts";

const options = parseOptions();
const { scenarios, serverUrl } = options;
const { work, end } = guard(serverUrl, benchBudgetSeconds(options));
// Each service target's twin at the --against commit runs right after it in every round of slices;
// the twins of several variants (--log-level info,silent) share one checkout.
const checkout = options.against === undefined ? undefined : await checkOut(options.against, work);
const targets: Target[] = [];
for (const target of options.targets) {
  targets.push(target);
  if (checkout && target.label.startsWith("service")) targets.push(againstTarget(checkout, target));
}

const started = Date.now();
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
console.log(`bench: ${cpus().length} cores, load average ${load()}; ${targets.map((t) => t.label).join(", ")}`);
console.log(
  `bench: ${scenarios.length} scenarios × (${options.warmup} s warm-up + ${options.duration} s in ${options.sliceCount} slices taken in turn), ${options.connections} connections, ${options.threads} wrk threads`,
);

const exitCode = await (async () => {
  const admin = new SQL({ url: serverUrl, max: 1, connectionTimeout: 5 });
  try {
    await admin`select 1`;
  } catch (error) {
    fail(`PostgreSQL does not answer at ${serverUrl}: ${error}`);
  }
  const before = await watchOutside(admin);
  await Bun.sleep(2000);
  requireQuiet(await before.stop(), "2 s before the run");
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

  // Every server is started before any is loaded: measure.ts takes their slices in turn.
  const reference = new Map<string, string>();
  const running: Running[] = [];
  let failed = false;
  for (const [index, target] of targets.entries()) {
    try {
      running.push(await startTarget(target, index, { serverUrl, template, data, secret }, reference));
    } catch (error) {
      failed = true;
      console.error(`bench: ${target.label} failed: ${error instanceof Error ? error.message : error}`);
    }
  }
  const results = new Map(running.map((server) => [server, new Map<Scenario, Measurement>()]));
  const all: (Results & { logLines: number })[] = [];
  const syncPath = join(work, "sync.lua");
  let served = running.filter((server) => server.target.label !== "baseline");
  try {
    if (scenarios.some(isSyncScenario) && served[0]) {
      const users = await syncData(databaseUrl(serverUrl, served[0].database), data);
      writeFileSync(syncPath, syncLua(users));
      const synced: Running[] = [];
      for (const server of served) {
        try {
          await checkSync(server.server.url, users);
          synced.push(server);
        } catch (error) {
          // An --against commit from before ETags and the feed has no sync scenarios to compare.
          if (!server.target.checkout) throw error;
          console.log(`bench: ${server.target.label} has no sync scenarios (${error}); skipped for them`);
        }
      }
      served = synced;
    }
    for (const scenario of scenarios) {
      // The baseline has no ETags or feed.
      const loaded = isSyncScenario(scenario) ? served : running;
      const path = isSyncScenario(scenario) ? syncPath : dataPath;
      const measured = await measureScenario(loaded, scenario, path, options, admin);
      for (const [server, m] of measured) results.get(server)!.set(scenario, m);
    }
  } finally {
    for (const server of running)
      all.push({
        target: server.target,
        results: results.get(server)!,
        logLines: await stopTarget(server, serverUrl),
      });
  }
  await admin.close();
  printTable(scenarios, all);
  if (options.withEvents) {
    const events: EventsResult[] = [];
    // An --against commit's events would need its own schema; its slices above are what it is for.
    for (const target of targets)
      if (target.label !== "baseline" && !target.checkout) events.push(await runEventsBench({ ...target, serverUrl }));
    printEvents(events);
  }
  printTargets();
  for (const { target, logLines } of all)
    if (target.label !== "baseline") console.log(`${target.label}: ${logLines} log lines written`);
  console.log(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s, load average now ${load()}`);
  return failed ? 1 : 0;
})()
  .catch((error) => {
    if (!(error instanceof NotQuietError)) throw error;
    console.error(`bench: ${error.message}`);
    return 2;
  })
  .finally(end);
process.exit(exitCode);
