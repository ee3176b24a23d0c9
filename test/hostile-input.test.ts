// Thousands of random requests to every route: random methods, paths, ids, query strings, bodies
// (JSON or not, valid UTF-8 or not, deeply nested) and headers, with good and bad tokens.
// Whatever comes in: never a 5xx, the contract's JSON in every answer, no task of another user in
// any answer, and nothing written when the answer is a 4xx.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { driver, send, tokenFor, useTestApp } from "./helpers.ts";

// Each run is one request; the total is reported at the end of the file.
const RUNS = { everyRoute: 2500, bodies: 1000 };

const ctx = useTestApp();
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};
let tried = 0;

beforeAll(async () => {
  const now = Math.floor(Date.now() / 1000);
  tokens.alice = await tokenFor("alice");
  tokens.bob = await tokenFor("bob");
  tokens.expired = await tokenFor("alice", { exp: now - 3600 });
  tokens.forged = await tokenFor("alice", {}, "a-different-secret-that-is-long-enough!!");
  tokens.notYet = await tokenFor("alice", { nbf: now + 3600 });
  tokens.noSub = await tokenFor("", {});
  await installChangeCounter();
  // Both users exist before the run, so a 4xx of theirs has nothing legitimate to write.
  for (const [user, title] of [
    ["alice", "alice's task"],
    ["bob", "bob's task"],
  ] as const) {
    const res = await send(ctx.app, {
      method: "POST",
      path: "/api/tasks",
      token: tokens[user],
      body: { title, priority: "high" },
    });
    ids[user] = (res.body as { id: string }).id;
  }
}, 30_000);

afterAll(async () => {
  console.log(`hostile input (${driver}): ${tried} random requests, none answered 5xx`);
});

/**
 * Counts every row written to tasks or users: a trigger on this file's own database bumps a
 * sequence (which no rollback resets), so "nothing changed" is one cheap read, and strict.
 */
async function installChangeCounter() {
  await ctx.db.execute(sql`create sequence test_writes`);
  await ctx.db.execute(sql`
    create function test_count_write() returns trigger language plpgsql as $$
    begin perform nextval('test_writes'); return null; end $$`);
  for (const table of ["tasks", "users"]) {
    await ctx.db.execute(
      sql.raw(
        `create trigger test_count_write after insert or update or delete on ${table} for each row execute function test_count_write()`,
      ),
    );
  }
}

async function snapshot(): Promise<string> {
  const result = await ctx.db.execute(sql`select last_value, is_called from test_writes`);
  const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
  return JSON.stringify(rows[0]);
}

// --- arbitraries ---------------------------------------------------------------------------

const printable = fc.string({ unit: "grapheme-ascii", maxLength: 40 });
const anyText = fc.oneof(
  printable,
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
);
/** Path segment: encoded text, or raw text that may be broken percent-encoding or dots. */
const segment = fc.oneof(
  anyText.map(encodeURIComponent),
  fc.constantFrom(
    "",
    "%",
    "%zz",
    "%E0%A4%A",
    "%00",
    "..",
    ".",
    "%2F",
    "%2e%2e",
    "null",
    "undefined",
    "0",
    "-1",
    "x".repeat(300),
  ),
);
const taskId = fc.oneof(
  fc
    .constantFrom(
      () => ids.alice!,
      () => ids.bob!,
    )
    .map((id) => id()),
  fc.uuid().map(String),
  fc.uuid().map((u) => u.toUpperCase()),
  segment,
);
const userSlot = fc.oneof(fc.constantFrom("alice", "bob", "ALICE", "alice%20", "%61lice"), segment);
const path = fc.oneof(
  fc.constant("/api/tasks"),
  fc.constant("/api/tasks/"),
  taskId.map((id) => `/api/tasks/${id}`),
  taskId.map((id) => `/api/tasks/${id}/complete`),
  userSlot.map((u) => `/api/${u}/tasks`),
  fc.tuple(userSlot, taskId).map(([u, id]) => `/api/${u}/tasks/${id}`),
  fc.tuple(userSlot, taskId).map(([u, id]) => `/api/${u}/tasks/${id}/complete`),
  fc.constantFrom("/health", "/health/ready", "/api", "/", "/api/tasks/x/y/z", "//api/tasks", "/API/TASKS"),
  fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join("/")}`),
);
const queryKey = fc.oneof(
  fc.constantFrom("status", "sort", "order", "priority", "q", "limit", "offset", "limit[]", "__proto__", "constructor"),
  printable,
);
const queryValue = fc.oneof(
  fc.constantFrom(
    "all",
    "pending",
    "completed",
    "created",
    "updated",
    "title",
    "due_date",
    "priority",
    "asc",
    "desc",
    "low",
    "medium",
    "high",
  ),
  fc.integer().map(String),
  fc.constantFrom(
    "1",
    "500",
    "501",
    "0",
    "-0",
    "1e2",
    "0x10",
    " 5",
    "5 ",
    "9".repeat(30),
    "NaN",
    "Infinity",
    "%",
    "%zz",
    "%_\\",
  ),
  anyText,
);
const query = fc.oneof(
  fc.constant(""),
  fc
    .array(fc.tuple(queryKey, queryValue, fc.boolean()), { maxLength: 6 })
    .map(
      (pairs) =>
        `?${pairs.map(([k, v, raw]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join("&")}`,
    ),
);
const fieldValue = fc.oneof(
  anyText,
  fc.constantFrom(
    "",
    " ",
    "   x   ",
    "low",
    "medium",
    "high",
    "2026-12-01",
    "2026-12-01T17:00:00Z",
    "2026-02-30",
    "0000-01-01",
    "x".repeat(201),
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
);
const taskLike = fc.record(
  {
    title: fieldValue,
    description: fieldValue,
    completed: fieldValue,
    priority: fieldValue,
    due_date: fieldValue,
    id: fieldValue,
    user_id: fc.constantFrom("bob", "alice"),
    created_at: fieldValue,
    __proto__: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const body: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  fc.constant(undefined),
  taskLike.map((value) => JSON.stringify(value)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  anyText,
  fc
    .uint8Array({ maxLength: 64 })
    .map((bytes) => new Uint8Array([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, ...bytes, 0xff, 0xfe, 0x22, 0x7d])),
  fc.integer({ min: 1, max: 30_000 }).map(nested),
  // At most 64 KiB: a larger body never reaches the app over the wire (test/http-limits.test.ts).
  fc.integer({ min: 1, max: 6500 }).map((depth) => `${'{"title":'.repeat(depth)}"x"${"}".repeat(depth)}`),
);
const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=xyz",
      "application/octet-stream",
      "application/JSON",
      "application/vnd.api+json",
    ),
    printable,
  ),
  { nil: undefined },
);
const authorization = fc.option(
  fc.oneof(
    fc.constantFrom("alice", "bob", "expired", "forged", "notYet", "noSub").map((name) => `Bearer ${tokens[name]}`),
    fc.constantFrom(
      "Bearer",
      "Bearer ",
      "bearer x.y.z",
      "Basic YWxpY2U6cHc=",
      "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
    ),
    printable.map((text) => `Bearer ${text}`),
    printable,
  ),
  { nil: undefined },
);
const extraHeaders = fc.dictionary(
  fc.constantFrom("x-request-id", "origin", "accept", "x-forwarded-for", "cookie", "content-encoding", "if-none-match"),
  printable,
  { maxKeys: 3 },
);
// Not TRACE: Bun's fetch() drops the body of its answer, so the binary pass could not check it.
const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND", "PURGE");

const hostileRequest = fc.record({ method, path, query, body, contentType, authorization, extraHeaders });
type HostileRequest = typeof hostileRequest extends fc.Arbitrary<infer T> ? T : never;

// --- what every answer must be ----------------------------------------------------------------

const TASK_KEYS = [
  "completed",
  "created_at",
  "description",
  "due_date",
  "id",
  "priority",
  "title",
  "updated_at",
  "user_id",
];

function expectTask(task: unknown, owner: string) {
  expect(task).toBeObject();
  const t = task as Record<string, unknown>;
  expect(Object.keys(t).sort()).toEqual(TASK_KEYS);
  expect(t.user_id).toBe(owner); // never another user's task, whatever was sent
  expect(typeof t.title).toBe("string");
}

/** Built by hand rather than with send(), which would fill in the Content-Type some cases leave out. */
async function sendHostile(r: HostileRequest) {
  const headers: Record<string, string> = { ...r.extraHeaders };
  if (r.contentType !== undefined) headers["content-type"] = r.contentType;
  if (r.authorization !== undefined) headers.authorization = r.authorization;
  const init: RequestInit = { method: r.method, headers };
  // fetch() cannot send a body with these (the binary pass sends every request with it).
  if (r.body !== undefined && !["GET", "HEAD", "TRACE"].includes(r.method)) init.body = r.body;
  tried++;
  return ctx.app.handle(new Request(`http://localhost${r.path}${r.query}`, init));
}

async function checkAnswer(r: HostileRequest) {
  const before = await snapshot();
  const res = await sendHostile(r);
  const text = await res.text();
  const where = `${r.method} ${r.path}${r.query} -> ${res.status} ${text.slice(0, 200)}`;
  expect(res.status, where).toBeLessThan(500);
  expect(res.headers.get("x-request-id"), where).toBeTruthy();

  if (res.status >= 400) expect(await snapshot(), where).toBe(before);
  // Bun.serve drops the body of a HEAD answer on the wire; app.handle may still carry one.
  if (r.method === "HEAD" && text === "") return;
  if (res.status >= 400) {
    expect(res.headers.get("content-type"), where).toStartWith("application/json");
    const error = JSON.parse(text) as Record<string, unknown>;
    expect(
      Object.keys(error).filter((k) => k !== "detail" && k !== "errors"),
      where,
    ).toEqual([]);
    expect(typeof error.detail === "string" && error.detail.length > 0, where).toBe(true);
    if (error.errors !== undefined) {
      for (const e of error.errors as Record<string, unknown>[])
        expect(Object.keys(e).sort(), where).toEqual(["field", "message"]);
    }
    if (res.status === 401) expect(res.headers.get("www-authenticate"), where).toStartWith("Bearer");
    expect(text, where).not.toMatch(/\n\s+at |node_modules|select |insert |update .* set/i);
    return;
  }
  // 2xx: a preflight or a DELETE has no body; everything else is the contract's JSON.
  if (res.status === 204) {
    expect(text, where).toBe("");
    return;
  }
  expect(res.headers.get("content-type"), where).toStartWith("application/json");
  const json = JSON.parse(text) as unknown;
  if (r.path.startsWith("/health")) return;
  const owner = r.authorization === `Bearer ${tokens.bob}` ? "bob" : "alice";
  if (Array.isArray(json)) for (const task of json) expectTask(task, owner);
  else expectTask(json, owner);
}

describe(`hostile input (${driver})`, () => {
  test(`${RUNS.everyRoute} random requests to every route`, async () => {
    await fc.assert(fc.asyncProperty(hostileRequest, checkAnswer), { numRuns: RUNS.everyRoute, seed: seedFromEnv() });
  }, 120_000);

  test(`${RUNS.bodies} random bodies to every writing route, with a valid token`, async () => {
    const writing = fc.record({
      method: fc.constantFrom("POST", "PUT", "PATCH"),
      path: fc.constantFrom(
        "/api/tasks",
        "/api/alice/tasks",
        `/api/tasks/${ids.alice}`,
        `/api/tasks/${ids.alice}/complete`,
        `/api/alice/tasks/${ids.alice}`,
        `/api/tasks/${ids.bob}`,
      ),
      query: fc.constant(""),
      body,
      contentType: fc.constantFrom("application/json", undefined),
      authorization: fc.constant(`Bearer ${tokens.alice}`),
      extraHeaders: fc.constant({}),
    });
    await fc.assert(fc.asyncProperty(writing, checkAnswer), { numRuns: RUNS.bodies, seed: seedFromEnv() });
  }, 120_000);

  test("bodies nested 30,000 deep and invalid UTF-8 are 400s that change nothing", async () => {
    const token = tokens.alice!;
    const cases: (string | Uint8Array)[] = [
      nested(30_000),
      `{"title": ${nested(20_000)}}`,
      `${'{"title":'.repeat(6000)}"x"${"}".repeat(6000)}`,
      new Uint8Array([
        ...new TextEncoder().encode('{"title":"'),
        0xc3,
        0x28,
        0xa0,
        0xa1,
        0xff,
        ...new TextEncoder().encode('"}'),
      ]),
      new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"title":"bom"}'), 0x80]),
    ];
    for (const raw of cases) {
      const before = await snapshot();
      const res = await send(ctx.app, { method: "POST", path: "/api/tasks", token, body: raw });
      expect(res.status).toBe(400);
      expect(Object.keys(res.body as object)).toContain("detail");
      expect(await snapshot()).toBe(before);
    }
  });
});

/** FC_SEED=<n> replays a failing run; by default every run explores new cases. */
function seedFromEnv(): number | undefined {
  return process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
}
