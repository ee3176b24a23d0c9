// Writes that race: toggles are one atomic UPDATE, creates all land, and partial updates of
// different fields of one task both survive. On PostgreSQL the requests really run in parallel
// on a pool of connections; on PGlite they interleave on its one connection.
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { tasks } from "../src/db/schema.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, send, tokenFor, useTestApp } from "./helpers.ts";
import { createTask } from "./tasks-helpers.ts";

const ctx = useTestApp();
let token: string;

beforeAll(async () => {
  token = await tokenFor("racer");
}, 60_000);

describe(`concurrent writes (${driver})`, () => {
  test("50 concurrent toggles end where they started, each seeing a different state", async () => {
    const task = await createTask(ctx.app, token);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        send<Task>(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token }),
      ),
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
      Array.from({ length: 51 }, () =>
        send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token }),
      ),
    );
    expect((await send<Task>(ctx.app, { path: `/api/tasks/${task.id}`, token })).body.completed).toBe(true);
  });

  test("100 concurrent creates are all stored and all listed", async () => {
    const owner = await tokenFor("creator");
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token: owner, body: { title: `task ${i}` } }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(201));
    const listed = await send<Task[]>(ctx.app, { path: "/api/tasks?limit=500", token: owner });
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
        send(ctx.app, { method, path: `/api/tasks/${task.id}`, token, body: { title: "renamed" } }),
        send(ctx.app, { method, path: `/api/tasks/${task.id}`, token, body: { priority: "high" } }),
        send(ctx.app, { method, path: `/api/tasks/${task.id}`, token, body: { description: "described" } }),
        send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token }),
      ]),
    );
    for (const task of targets) {
      const stored = (await send<Task>(ctx.app, { path: `/api/tasks/${task.id}`, token })).body;
      expect(stored).toMatchObject({ title: "renamed", priority: "high", description: "described", completed: true });
    }
  });
});
