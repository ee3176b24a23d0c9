// `bun run bench:scale`: how a user's own number of tasks changes what their requests cost. One
// database holds a light user (50 tasks) and a heavy one (100,000); the service answers each list
// variant, a get and a toggle for both, one request at a time, and the table gives the medians and
// heavy/light. Target (bench/README.md): at most 2× for every line. Same quiet-machine rule as
// `bun run bench` (bench/quiet.ts), and everything it makes is removed however it ends.
import { parseArgs } from "node:util";
import { SQL } from "bun";
import { freePort, startProcess } from "../harness/process.ts";
import { children, databases, guard } from "./cleanup.ts";
import { fail, ROOT } from "./options.ts";
import { NotQuietError, requireQuiet, watchOutside } from "./quiet.ts";
import { benchToken, createMigratedDatabase, insertTasks, numberChanges } from "./seed.ts";

const MAX_GROWTH = 2;
const LIGHT_TASKS = 50;
const HEAVY_TASKS = 100_000;
/** Tasks per user that the selective `q` finds, beside the numbered ones. */
const NEEDLES = 10;

// What a client asks for; every sort in both directions, filters, a selective q, a deep page. Each
// page holds PAGE tasks for both users (the light one has at least that many in every filter), so
// the growth is the heavy user's own tasks, not a longer page: with the default limit a filter
// gave the light user 12 tasks and the heavy one 100. The deep page is set beside the light user's
// first page, since 50 tasks have no page at offset 5,000.
const PAGE = 10;
const LISTS: { query: string; light?: string }[] = [
  "",
  "status=pending&sort=due_date",
  "sort=created&order=asc",
  "sort=updated",
  "sort=updated&order=asc",
  "sort=title",
  "sort=title&order=desc",
  "sort=due_date",
  "sort=due_date&order=desc",
  "sort=priority",
  "sort=priority&order=asc",
  "priority=high&sort=title",
  "status=completed&sort=priority&order=asc",
  "q=plumber",
  "q=plumber&status=pending&sort=title",
]
  .map((filter): { query: string; light?: string } => ({ query: `?${filter ? `${filter}&` : ""}limit=${PAGE}` }))
  .concat({ query: `?limit=${PAGE}&offset=5000`, light: `?limit=${PAGE}` });

const { values: args } = parseArgs({
  options: {
    server: { type: "string", default: "service" },
    requests: { type: "string", default: "40" },
    "database-url": {
      type: "string",
      default: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
  },
});
const serverUrl = args["database-url"];
const requests = Number(args.requests);
const cmd =
  args.server === "binary"
    ? [`${ROOT}/dist/todo-api`]
    : args.server === "service"
      ? [process.execPath, `${ROOT}/src/index.ts`]
      : fail(`--server ${args.server}: service or binary`);
// Seeding 100,000 tasks takes about 10 s; the heaviest request today ~100 ms, 45 times per line.
const { end } = guard(serverUrl, 300);

async function seed(url: string): Promise<void> {
  const db = new SQL({ url, max: 1 });
  try {
    // The migrations give the service's role a 3 s statement deadline; seeding 100,000 rows is not a request.
    await db`set statement_timeout = 0`;
    await db`insert into users (id, email, name) values ('light-user', null, 'Light'), ('heavy-user', null, 'Heavy')`;
    await insertTasks(db, "u.id = 'light-user'", LIGHT_TASKS);
    await insertTasks(db, "u.id = 'heavy-user'", HEAVY_TASKS);
    await db.unsafe(`
      insert into tasks (user_id, title, created_at, updated_at)
      select u.id, 'Call the plumber about the boiler, ' || n, now() - n * interval '1 hour', now() - n * interval '1 hour'
      from users u cross join generate_series(1, ${NEEDLES}) n`);
    await numberChanges(db);
    // As a database that took only inserts would be once autovacuum has seen it.
    await db`vacuum analyze`;
  } finally {
    await db.close();
  }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The median time of `requests` answers, after 5 unmeasured, and how many tasks an answer held. */
async function timeRequests(send: () => Promise<Response>): Promise<{ median: number; tasks: number }> {
  for (let i = 0; i < 5; i++) await (await send()).arrayBuffer();
  const times: number[] = [];
  let tasks = 0;
  for (let i = 0; i < requests; i++) {
    const start = performance.now();
    const response = await send();
    const body = await response.text();
    times.push(performance.now() - start);
    if (!response.ok) throw new Error(`${response.status} ${response.url}`);
    const parsed: unknown = JSON.parse(body);
    tasks = Array.isArray(parsed) ? parsed.length : 1;
  }
  return { median: median(times), tasks };
}

const exitCode = await (async () => {
  const admin = new SQL({ url: serverUrl, max: 1, connectionTimeout: 5 });
  const before = await watchOutside(admin);
  await Bun.sleep(2000);
  requireQuiet(await before.stop(), "2 s before the run");
  const name = `todo_bench_scale_${Date.now().toString(36)}`;
  databases.push(name);
  const started = Date.now();
  const url = await createMigratedDatabase(serverUrl, name);
  await seed(url);
  console.log(
    `bench:scale: seeded ${LIGHT_TASKS} and ${HEAVY_TASKS} tasks in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const port = freePort();
  const server = await startProcess(cmd, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: url,
      BETTER_AUTH_SECRET: secret,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
    },
    readyUrl: `http://127.0.0.1:${port}/health`,
    keepLines: 20,
  });
  children.add(server.proc);
  const db = new SQL({ url, max: 1 });
  const users: { id: string; auth: string; task: string }[] = [];
  for (const id of ["light-user", "heavy-user"]) {
    const [row] = await db`select id::text from tasks where user_id = ${id} order by created_at limit 1`;
    users.push({ id, auth: `Bearer ${await benchToken(id, secret)}`, task: (row as { id: string }).id });
  }
  await db.close();

  const rows: string[][] = [];
  const watch = await watchOutside(admin);
  // Light then heavy, one request at a time: the figure is what one waiting person sees.
  const measure = async (label: string, request: (user: (typeof users)[number]) => [string, RequestInit?]) => {
    const medians: number[] = [];
    const sizes: number[] = [];
    for (const user of users) {
      const [path, init] = request(user);
      const { median: time, tasks } = await timeRequests(() =>
        fetch(`${server.url}${path}`, { ...init, headers: { authorization: user.auth } }),
      );
      medians.push(time);
      sizes.push(tasks);
    }
    const [light, heavy] = medians as [number, number];
    const growth = heavy / light;
    rows.push([
      label,
      sizes.join(" / "),
      light.toFixed(2),
      heavy.toFixed(2),
      `${growth.toFixed(1)}×`,
      growth <= MAX_GROWTH ? "PASS" : `FAIL >${MAX_GROWTH}×`,
    ]);
  };
  for (const { query, light } of LISTS) {
    const label = `GET /api/tasks${query}${light ? ` (light: ${light})` : ""}`;
    await measure(label, (user) => [`/api/tasks${user.id === "light-user" ? (light ?? query) : query}`]);
  }
  await measure("GET /api/tasks/{id}", (user) => [`/api/tasks/${user.task}`]);
  await measure("PATCH /api/tasks/{id}/complete", (user) => [`/api/tasks/${user.task}/complete`, { method: "PATCH" }]);
  requireQuiet(await watch.stop(), "the measurements");
  await admin.close();

  const header = [
    "request",
    "tasks in answer",
    `${LIGHT_TASKS} tasks ms`,
    `${HEAVY_TASKS} tasks ms`,
    "growth",
    "verdict",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows) console.log(line(row));
  console.log(
    `\nmedians of ${requests} requests each, one at a time; target: growth ≤ ${MAX_GROWTH}× (bench/README.md)`,
  );
  await server.stop();
  children.delete(server.proc);
  return 0;
})()
  .catch((error) => {
    if (!(error instanceof NotQuietError)) throw error;
    console.error(`bench:scale: ${error.message}`);
    return 2;
  })
  .finally(end);
process.exit(exitCode);
