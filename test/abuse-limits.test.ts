// Limits that keep one caller from taking the service: the optional per-user rate limit, the cap
// on a page of tasks, and the bound on the in-process user cache.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createApp } from "../src/app.ts";
import { cachedUserUpsert } from "../src/auth/users.ts";
import { createTokenVerifier } from "../src/auth/verify.ts";
import { tasks, users } from "../src/db/schema.ts";
import { createLogger } from "../src/http/log.ts";
import { createRateLimiter } from "../src/http/rate-limit.ts";
import {
  driver,
  freshDatabase,
  recountTasks,
  send,
  TEST_SECRET,
  type TestDatabase,
  testBinary,
  testEvents,
  tokenFor,
} from "./helpers.ts";

// The app is built in-process with its own options (a rate limit), which a binary cannot take:
// the binary pass would only repeat this file.
const inProcess = describe.skipIf(testBinary !== undefined);

let database: TestDatabase;
beforeAll(async () => {
  if (!testBinary) database = await freshDatabase();
}, 30_000);
afterAll(() => database?.close());

function appWith(rateLimitPerMinute?: number) {
  return createApp({
    config: { corsOrigins: [], rateLimitPerMinute },
    database,
    verifyToken: createTokenVerifier({ secret: TEST_SECRET }),
    log: createLogger("silent"),
    events: testEvents(database),
  });
}

async function taskCount(userId: string) {
  return (await database.db.select().from(tasks).where(eq(tasks.userId, userId))).length;
}

inProcess(`rate limit (${driver})`, () => {
  test("off by default: 150 requests in a row from one user all pass", async () => {
    const app = appWith();
    const token = await tokenFor("unlimited");
    for (let i = 0; i < 150; i++) expect((await send(app, { path: "/api/tasks?limit=1", token })).status).toBe(200);
  });

  test("over RATE_LIMIT_PER_MINUTE a user gets 429 with Retry-After; other users do not", async () => {
    const app = appWith(5);
    const token = await tokenFor("limited");
    for (let i = 0; i < 5; i++) expect((await send(app, { path: "/api/tasks", token })).status).toBe(200);
    const res = await send(app, { path: "/api/tasks", token });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("12"); // one request per 60/5 s comes back
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(res.body).toEqual({ detail: "Too many requests: at most 5 per minute; retry in 12 s" });
    // The hackathon path shape shares the budget.
    expect((await send(app, { path: "/api/limited/tasks", token })).status).toBe(429);

    const other = await tokenFor("not-limited");
    expect((await send(app, { path: "/api/tasks", token: other })).status).toBe(200);
    // No token is still a 401: authentication comes first.
    expect((await send(app, { path: "/api/tasks" })).status).toBe(401);
    // Service routes have no budget.
    expect((await send(app, { path: "/health" })).status).toBe(200);
  });

  test("a limited request changes nothing and is refused before its body is validated", async () => {
    const app = appWith(2);
    const token = await tokenFor("limited-writer");
    expect((await send(app, { method: "POST", path: "/api/tasks", token, body: { title: "one" } })).status).toBe(201);
    expect((await send(app, { method: "POST", path: "/api/tasks", token, body: { title: "two" } })).status).toBe(201);
    expect((await send(app, { method: "POST", path: "/api/tasks", token, body: { title: "three" } })).status).toBe(429);
    expect((await send(app, { method: "POST", path: "/api/tasks", token, body: { title: "" } })).status).toBe(429);
    expect(await taskCount("limited-writer")).toBe(2);
  });

  test("the budget refills at the configured pace (GCRA on a controlled clock)", () => {
    let now = 1_000_000;
    const take = createRateLimiter(60, 100, () => now);
    for (let i = 0; i < 60; i++) expect(take("u")).toBe(0); // the whole minute's budget at once
    expect(take("u")).toBe(1);
    now += 999;
    expect(take("u")).toBe(1);
    now += 1;
    expect(take("u")).toBe(0); // one more per second
    expect(take("u")).toBe(1);
    now += 60_000;
    for (let i = 0; i < 60; i++) expect(take("u")).toBe(0); // idle for a minute: full budget again
    expect(take("u")).toBeGreaterThan(0);
  });

  test("the limiter remembers a bounded number of users", () => {
    const now = 0;
    const take = createRateLimiter(1, 2, () => now);
    expect(take("a")).toBe(0);
    expect(take("a")).toBe(60);
    expect(take("b")).toBe(0);
    expect(take("c")).toBe(0); // "a", least recently seen, is forgotten
    expect(take("a")).toBe(0);
    expect(take("c")).toBe(60); // "c" is still remembered
  });
});

inProcess(`page size cap (${driver})`, () => {
  test("limit is 100 by default, at most 500, and anything above is a 400", async () => {
    const app = appWith();
    const token = await tokenFor("many-tasks");
    expect((await send(app, { path: "/api/tasks", token })).status).toBe(200);
    await database.db
      .insert(tasks)
      .values(Array.from({ length: 501 }, (_, i) => ({ userId: "many-tasks", title: `task ${i}` })));
    await recountTasks(database.db);

    const byDefault = await send(app, { path: "/api/tasks", token });
    expect((byDefault.body as unknown[]).length).toBe(100);
    expect(byDefault.headers.get("x-total-count")).toBe("501");
    const max = await send(app, { path: "/api/tasks?limit=500", token });
    expect((max.body as unknown[]).length).toBe(500);
    for (const limit of ["501", "100000", "0", "-1", "1e3"]) {
      const res = await send(app, { path: `/api/tasks?limit=${limit}`, token });
      expect(res.status).toBe(400);
      expect((res.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(["limit"]);
    }
  });
});

inProcess(`user cache bound (${driver})`, () => {
  test("a user evicted from the cache has its claims written again on its next request; a cached one not", async () => {
    const register = cachedUserUpsert(database.db, 2);
    for (const sub of ["cache-a", "cache-b", "cache-c"]) await register({ sub, email: `${sub}@example.com` });
    // Change the rows behind the registry's back: only a full upsert writes the claims again.
    await database.db.update(users).set({ email: "changed@example.com" });
    await register({ sub: "cache-a", email: "cache-a@example.com" }); // evicted when cache-c came
    await register({ sub: "cache-c", email: "cache-c@example.com" }); // still cached: row kept as it is
    const rows = await database.db.select({ id: users.id, email: users.email }).from(users);
    const email = (id: string) => rows.find((r) => r.id === id)?.email;
    expect(email("cache-a")).toBe("cache-a@example.com");
    expect(email("cache-c")).toBe("changed@example.com");
  });
});
