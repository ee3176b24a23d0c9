// Writes that race: toggles are one atomic UPDATE, creates all land, and partial updates of
// different fields of one task both survive. On PostgreSQL the requests really run in parallel
// on a pool of connections; on PGlite they interleave on its one connection.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { tasks } from "../src/db/schema.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, testApp, tokenFor } from "./helpers.ts";
import { call, createTask } from "./tasks-helpers.ts";

let ctx: Awaited<ReturnType<typeof testApp>>;
let token: string;

beforeAll(async () => {
  ctx = await testApp();
  token = await tokenFor("racer");
}, 60_000);
afterAll(() => ctx.close());

describe(`concurrent writes (${driver})`, () => {
  test("50 concurrent toggles end where they started, each seeing a different state", async () => {
    const task = await createTask(ctx.app, token);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call<Task>(ctx.app, token, "PATCH", `/api/tasks/${task.id}/complete`)),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(200));
    // Serialized flips answer true and false 25 times each; a lost update would skew the split.
    expect(answers.filter((answer) => answer.body.completed).length).toBe(25);
    // updated_at moved on every flip: 50 distinct values.
    expect(new Set(answers.map((answer) => answer.body.updated_at)).size).toBe(50);
    const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, task.id));
    expect(row!.completed).toBe(false);
  });

  test("51 concurrent toggles end flipped", async () => {
    const task = await createTask(ctx.app, token);
    await Promise.all(
      Array.from({ length: 51 }, () => call(ctx.app, token, "PATCH", `/api/tasks/${task.id}/complete`)),
    );
    expect((await call<Task>(ctx.app, token, "GET", `/api/tasks/${task.id}`)).body.completed).toBe(true);
  });

  test("100 concurrent creates are all stored and all listed", async () => {
    const owner = await tokenFor("creator");
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => call<Task>(ctx.app, owner, "POST", "/api/tasks", { title: `task ${i}` })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(201));
    const listed = await call<Task[]>(ctx.app, owner, "GET", "/api/tasks?limit=500");
    expect(listed.headers.get("x-total-count")).toBe("100");
    expect(listed.body.map((task) => task.id).sort()).toEqual(answers.map((answer) => answer.body.id).sort());
    expect(new Set(listed.body.map((task) => task.title)).size).toBe(100);
  });

  test.each(["PATCH", "PUT"])("concurrent %s requests of different fields both survive", async (method) => {
    const targets = await Promise.all(
      Array.from({ length: 10 }, () => createTask(ctx.app, token, { title: "before" })),
    );
    await Promise.all(
      targets.flatMap((task) => [
        call(ctx.app, token, method, `/api/tasks/${task.id}`, { title: "renamed" }),
        call(ctx.app, token, method, `/api/tasks/${task.id}`, { priority: "high" }),
        call(ctx.app, token, method, `/api/tasks/${task.id}`, { description: "described" }),
        call(ctx.app, token, "PATCH", `/api/tasks/${task.id}/complete`),
      ]),
    );
    for (const task of targets) {
      const stored = (await call<Task>(ctx.app, token, "GET", `/api/tasks/${task.id}`)).body;
      expect(stored).toMatchObject({ title: "renamed", priority: "high", description: "described", completed: true });
    }
  });
});
