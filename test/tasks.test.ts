// Every task route of docs/api.md in both shapes (/api/tasks... and /api/{user_id}/tasks...),
// and isolation between users on every route: 403 vs 404, ids that are not UUIDs, user ids in bodies.
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { tasks } from "../src/db/schema.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, send, tokenFor, useTestApp } from "./helpers.ts";
import { createTask, ISO_INSTANT, UUID, unchanged } from "./tasks-helpers.ts";

const ctx = useTestApp();
let alice: string;
let bob: string;

beforeAll(async () => {
  alice = await tokenFor("alice");
  bob = await tokenFor("bob");
  // Both users exist, so a refused request has nothing legitimate to write.
  await send(ctx.app, { path: "/api/tasks", token: bob });
}, 60_000);

const shapes = [
  ["/api/tasks", "/api/tasks"],
  ["/api/{user_id}/tasks", "/api/alice/tasks"],
] as const;

describe.each(shapes)(`tasks at %s (${driver})`, (_, base) => {
  test("POST creates the task: 201, Location, every field, defaults null/false", async () => {
    const answer = await send<Task>(ctx.app, {
      method: "POST",
      path: base,
      token: alice,
      body: { title: "Write the report" },
    });
    expect(answer.status).toBe(201);
    const task = answer.body;
    expect(answer.headers.get("location")).toBe(`/api/tasks/${task.id}`);
    expect(task).toEqual({
      id: expect.stringMatching(UUID),
      user_id: "alice",
      title: "Write the report",
      description: null,
      completed: false,
      priority: null,
      due_date: null,
      created_at: expect.stringMatching(ISO_INSTANT),
      updated_at: task.created_at,
    });
    const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, task.id));
    expect(row).toMatchObject({ userId: "alice", title: "Write the report", completed: false });
    expect(row!.createdAt.toISOString()).toBe(task.created_at);
  });

  test("POST stores every writable field", async () => {
    const body = {
      title: "Plan",
      description: "two pages",
      completed: true,
      priority: "high",
      due_date: "2026-12-01T17:00:00Z",
    };
    const { status, body: task } = await send<Task>(ctx.app, { method: "POST", path: base, token: alice, body });
    expect(status).toBe(201);
    expect(task).toMatchObject({ ...body, due_date: "2026-12-01T17:00:00.000Z", user_id: "alice" });
  });

  test("GET /{id} returns the task", async () => {
    const task = await createTask(ctx.app, alice, { title: "read me", priority: "low" });
    const answer = await send<Task>(ctx.app, { path: `${base}/${task.id}`, token: alice });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(task);
  });

  test("GET lists the caller's tasks with X-Total-Count", async () => {
    const task = await createTask(ctx.app, alice, { title: "listed" });
    const answer = await send<Task[]>(ctx.app, { path: base, token: alice });
    expect(answer.status).toBe(200);
    expect(answer.body).toContainEqual(task);
    expect(answer.body.every((t) => t.user_id === "alice")).toBe(true);
    expect(Number(answer.headers.get("x-total-count"))).toBe(answer.body.length);
  });

  test.each(["PUT", "PATCH"])("%s writes only the fields given; null clears; updated_at moves", async (method) => {
    const task = await createTask(ctx.app, alice, {
      title: "before",
      description: "keep me",
      priority: "low",
      due_date: "2026-12-01",
    });
    const answer = await send<Task>(ctx.app, {
      method,
      path: `${base}/${task.id}`,
      token: alice,
      body: {
        title: "  after  ",
        priority: null,
      },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      ...task,
      title: "after",
      priority: null,
      updated_at: expect.stringMatching(ISO_INSTANT),
    });
    expect(Date.parse(answer.body.updated_at)).toBeGreaterThan(Date.parse(task.updated_at));
    const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, task.id));
    expect(row).toMatchObject({ title: "after", description: "keep me", priority: null });
    expect(row!.dueDate!.toISOString()).toBe("2026-12-01T00:00:00.000Z");
  });

  test.each(["PUT", "PATCH"])("%s with every field, then clearing every optional one", async (method) => {
    const task = await createTask(ctx.app, alice);
    const all = {
      title: "all",
      description: "d",
      completed: true,
      priority: "medium",
      due_date: "2027-01-02T03:04:05.678+01:00",
    };
    const set = await send<Task>(ctx.app, { method, path: `${base}/${task.id}`, token: alice, body: all });
    expect(set.body).toMatchObject({ ...all, due_date: "2027-01-02T02:04:05.678Z" });
    const cleared = await send<Task>(ctx.app, {
      method,
      path: `${base}/${task.id}`,
      token: alice,
      body: {
        description: null,
        priority: null,
        due_date: null,
      },
    });
    expect(cleared.body).toMatchObject({
      title: "all",
      completed: true,
      description: null,
      priority: null,
      due_date: null,
    });
  });

  test.each(["PUT", "PATCH"])("%s with an empty object changes nothing", async (method) => {
    const task = await createTask(ctx.app, alice);
    const answer = await unchanged(ctx.db, () =>
      send<Task>(ctx.app, { method, path: `${base}/${task.id}`, token: alice, body: {} }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(task);
  });

  test("PATCH /{id}/complete without a body toggles, with a body sets", async () => {
    const task = await createTask(ctx.app, alice);
    const path = `${base}/${task.id}/complete`;
    const on = await send<Task>(ctx.app, { method: "PATCH", path, token: alice });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ id: task.id, completed: true });
    expect(Date.parse(on.body.updated_at)).toBeGreaterThan(Date.parse(task.updated_at));
    expect((await send<Task>(ctx.app, { method: "PATCH", path, token: alice })).body.completed).toBe(false);
    expect((await send<Task>(ctx.app, { method: "PATCH", path, token: alice, body: {} })).body.completed).toBe(true);
    expect(
      (await send<Task>(ctx.app, { method: "PATCH", path, token: alice, body: { completed: true } })).body.completed,
    ).toBe(true);
    const off = await send<Task>(ctx.app, { method: "PATCH", path, token: alice, body: { completed: false } });
    expect(off.body).toEqual({ ...task, completed: false, updated_at: expect.stringMatching(ISO_INSTANT) });
    const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, task.id));
    expect(row!.completed).toBe(false);
  });

  test("DELETE answers 204 with no body, and the task is gone", async () => {
    const task = await createTask(ctx.app, alice);
    const response = await send(ctx.app, { method: "DELETE", path: `${base}/${task.id}`, token: alice });
    expect(response.status).toBe(204);
    expect(response.text).toBe("");
    expect(await ctx.db.select().from(tasks).where(eq(tasks.id, task.id))).toEqual([]);
    expect((await send(ctx.app, { path: `${base}/${task.id}`, token: alice })).status).toBe(404);
    expect((await send(ctx.app, { method: "DELETE", path: `${base}/${task.id}`, token: alice })).status).toBe(404);
  });

  test("an upper-case UUID names the same task", async () => {
    const task = await createTask(ctx.app, alice);
    const answer = await send<Task>(ctx.app, { path: `${base}/${task.id.toUpperCase()}`, token: alice });
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe(task.id);
  });
});

// One request per task route, for a task id, in either shape.
const routes = (base: string, id: string) =>
  [
    ["GET", `${base}/${id}`, undefined],
    ["PUT", `${base}/${id}`, { title: "taken over" }],
    ["PATCH", `${base}/${id}`, { completed: true }],
    ["PATCH", `${base}/${id}/complete`, undefined],
    ["DELETE", `${base}/${id}`, undefined],
  ] as const;

describe(`isolation between users (${driver})`, () => {
  let aliceTask: Task;
  beforeAll(async () => {
    aliceTask = await createTask(ctx.app, alice, { title: "alice's secret", description: "private" });
  }, 60_000);

  test.each([
    ["/api/tasks", "/api/tasks"],
    ["/api/{user_id}/tasks", "/api/bob/tasks"],
  ])("another user's task is a 403 on every route of %s, and stays as it was", async (_, base) => {
    for (const [method, path, body] of routes(base, aliceTask.id)) {
      const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, token: bob, body }));
      expect([method, path, answer.status, answer.body]).toEqual([
        method,
        path,
        403,
        { detail: "Not authorized to access this task" },
      ]);
    }
  });

  test.each([
    ["a random UUID", crypto.randomUUID()],
    ["a number", "42"],
    ["a word", "not-a-uuid"],
    ["a UUID without hyphens", crypto.randomUUID().replaceAll("-", "")],
    ["a UUID with a trailing character", `${crypto.randomUUID()}x`],
    ["SQL", "1'%20or%20'1'='1"],
  ])("%s as the id is a 404 on every route of both shapes", async (_, id) => {
    for (const base of ["/api/tasks", "/api/bob/tasks"]) {
      for (const [method, path, body] of routes(base, id)) {
        const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, token: bob, body }));
        expect([method, path, answer.status, answer.body]).toEqual([method, path, 404, { detail: "Task not found" }]);
      }
    }
  });

  // A body that is not JSON at all is refused earlier, as it is parsed (a 400 either way).
  test("naming another user in the path is a 403 on every route, before the task or the body's fields are looked at", async () => {
    const requests = [
      ["GET", "/api/alice/tasks", undefined],
      ["POST", "/api/alice/tasks", { title: "planted" }],
      ["POST", "/api/alice/tasks", { title: "" }],
      ...routes("/api/alice/tasks", aliceTask.id),
      ...routes("/api/alice/tasks", crypto.randomUUID()),
      ...routes("/api/alice/tasks", "not-a-uuid"),
    ] as const;
    for (const [method, path, body] of requests) {
      const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, token: bob, body }));
      expect([method, path, answer.status, answer.body]).toEqual([
        method,
        path,
        403,
        { detail: "Not authorized to access this user's tasks" },
      ]);
    }
  });

  test("a list never holds another user's task, whatever the filters", async () => {
    for (const query of ["", "?status=pending", "?q=secret", "?q=alice", "?sort=title&limit=500"]) {
      const answer = await send<Task[]>(ctx.app, { path: `/api/tasks${query}`, token: bob });
      expect(answer.status).toBe(200);
      expect(answer.body.filter((task) => task.user_id !== "bob")).toEqual([]);
    }
    const found = await send<Task[]>(ctx.app, { path: "/api/tasks?q=secret", token: alice });
    expect(found.body.map((task) => task.id)).toEqual([aliceTask.id]);
  });

  test("user_id, id and timestamps in a create body are ignored", async () => {
    const planted = {
      id: crypto.randomUUID(),
      user_id: "alice",
      created_at: "2000-01-01T00:00:00.000Z",
      updated_at: "2000-01-01T00:00:00.000Z",
    };
    const answer = await send<Task>(ctx.app, {
      method: "POST",
      path: "/api/tasks",
      token: bob,
      body: { title: "mine", ...planted, colour: "red" },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.user_id).toBe("bob");
    expect(answer.body.id).not.toBe(planted.id);
    expect(answer.body.created_at).not.toBe(planted.created_at);
    expect(answer.body).not.toHaveProperty("colour");
    const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, answer.body.id));
    expect(row!.userId).toBe("bob");
  });

  test.each(["PUT", "PATCH"])(
    "user_id, id and timestamps in a %s body are ignored: a task never moves",
    async (method) => {
      const task = await createTask(ctx.app, bob);
      const planted = {
        id: aliceTask.id,
        user_id: "alice",
        created_at: "2000-01-01T00:00:00.000Z",
        updated_at: "2000-01-01T00:00:00.000Z",
      };
      const answer = await send<Task>(ctx.app, {
        method,
        path: `/api/tasks/${task.id}`,
        token: bob,
        body: {
          ...planted,
          title: "still bob's",
        },
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        id: task.id,
        user_id: "bob",
        title: "still bob's",
        created_at: task.created_at,
      });
      const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, task.id));
      expect(row!.userId).toBe("bob");
      const [untouched] = await ctx.db.select().from(tasks).where(eq(tasks.id, aliceTask.id));
      expect(untouched).toMatchObject({ userId: "alice", title: "alice's secret" });
    },
  );

  test.each(shapes)("every route of %s needs a token: 401 and nothing written", async (_, base) => {
    const task = await createTask(ctx.app, alice);
    for (const [method, path, body] of [
      ["GET", base, undefined],
      ["POST", base, { title: "x" }],
      ...routes(base, task.id),
    ] as const) {
      const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, body }));
      expect([method, path, answer.status, answer.body]).toEqual([
        method,
        path,
        401,
        { detail: "Missing authentication token" },
      ]);
      expect(answer.headers.get("www-authenticate")).toStartWith("Bearer");
    }
  });
});

describe(`routes that do not exist (${driver})`, () => {
  test.each([
    ["DELETE", "/api/tasks", "GET, POST"],
    ["PUT", "/api/tasks", "GET, POST"],
    ["POST", `/api/tasks/${crypto.randomUUID()}`, "GET, PUT, PATCH, DELETE"],
    ["GET", `/api/tasks/${crypto.randomUUID()}/complete`, "PATCH"],
    ["DELETE", "/api/alice/tasks", "GET, POST"],
  ])("%s %s is a 405 with Allow", async (method, path, allow) => {
    const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, token: alice }));
    expect(answer.status).toBe(405);
    expect(answer.headers.get("allow")!.split(", ").sort()).toEqual(allow.split(", ").sort());
  });

  test.each(["/api/tasks/x/y", "/api/task", "/api/alice/tasks/x/y/z"])("%s is a 404", async (path) => {
    const answer = await send(ctx.app, { path, token: alice });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ detail: "Not found" });
  });
});
