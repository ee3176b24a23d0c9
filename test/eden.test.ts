// The typed client a Next.js frontend uses: Eden's treaty over `App`, driving every task route in
// both shapes with no network (treaty(app) calls app.handle). The type assertions at the bottom
// make `bun run typecheck` fail if a route's answer degrades to `unknown` or loses a field.
import { beforeAll, describe, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import type { App } from "../src/app.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, tokenFor, useTestApp } from "./helpers.ts";

const ctx = useTestApp();
let api: ReturnType<typeof client>;
let stranger: ReturnType<typeof client>;

/** The client as the README shows it: dates stay ISO strings, as the contract sends them. */
function client(app: App, token: string) {
  return treaty(app, { parseDate: false, headers: { authorization: `Bearer ${token}` } });
}

beforeAll(async () => {
  api = client(ctx.app, await tokenFor("eden"));
  stranger = client(ctx.app, await tokenFor("stranger"));
}, 60_000);

describe(`Eden treaty (${driver})`, () => {
  test("every route of /api/tasks", async () => {
    const created = await api.api.tasks.post({ title: "  via Eden  ", priority: "high", due_date: "2026-12-01" });
    expect(created.status).toBe(201);
    const task = created.data!;
    expect(task.title).toBe("via Eden");
    expect(task.due_date).toBe("2026-12-01T00:00:00.000Z");
    expect(typeof task.created_at).toBe("string");
    expect(created.headers).toBeInstanceOf(Headers);
    expect((created.headers as Headers).get("location")).toBe(`/api/tasks/${task.id}`);

    const listed = await api.api.tasks.get({ query: { status: "pending", sort: "priority", limit: 10 } });
    expect(listed.data!.map((t) => t.id)).toEqual([task.id]);
    expect((listed.headers as Headers).get("x-total-count")).toBe("1");

    const one = api.api.tasks({ id: task.id });
    expect((await one.get()).data).toEqual(task);
    expect((await one.put({ description: "set by PUT" })).data!.description).toBe("set by PUT");
    expect((await one.patch({ priority: null })).data!.priority).toBeNull();
    expect((await one.complete.patch()).data!.completed).toBe(true);
    expect((await one.complete.patch({ completed: false })).data!.completed).toBe(false);

    const deleted = await one.delete();
    expect(deleted.status).toBe(204);
    expect(deleted.error).toBeNull();
    const gone = await one.get();
    expect(gone.data).toBeNull();
    expect(gone.error!.status).toBe(404);
    expect(gone.error!.value).toEqual({ detail: "Task not found" });
  });

  test("every route of /api/{user_id}/tasks", async () => {
    const mine = api.api({ user_id: "eden" }).tasks;
    const task = (await mine.post({ title: "hackathon shape" })).data!;
    expect(task.user_id).toBe("eden");
    expect((await mine.get({ query: { q: "hackathon" } })).data!.map((t) => t.id)).toEqual([task.id]);
    const one = mine({ id: task.id });
    expect((await one.get()).data!.title).toBe("hackathon shape");
    expect((await one.put({ title: "renamed" })).data!.title).toBe("renamed");
    expect((await one.patch({ due_date: "2026-12-24T18:00:00+01:00" })).data!.due_date).toBe(
      "2026-12-24T17:00:00.000Z",
    );
    expect((await one.complete.patch()).data!.completed).toBe(true);
    expect((await one.delete()).status).toBe(204);
  });

  test("errors arrive typed: 400 with field errors, 403 for another user's task and path", async () => {
    const invalid = await api.api.tasks.post({ title: "" });
    expect(invalid.error!.status).toBe(400);
    expect(invalid.error!.value).toEqual({
      detail: "Invalid request body",
      errors: [{ field: "title", message: "must be 1 to 200 characters long after trimming whitespace" }],
    });

    const task = (await api.api.tasks.post({ title: "private" })).data!;
    const foreign = await stranger.api.tasks({ id: task.id }).get();
    expect(foreign.error!.status).toBe(403);
    expect(foreign.error!.value).toEqual({ detail: "Not authorized to access this task" });
    const otherPath = await stranger.api({ user_id: "eden" }).tasks.get();
    expect(otherPath.error!.value).toEqual({ detail: "Not authorized to access this user's tasks" });
  });

  test("with parseDate left on, Eden turns a date-like title into a Date: why the README sets it off", async () => {
    const parsing = treaty(ctx.app, { headers: { authorization: `Bearer ${await tokenFor("eden")}` } });
    const task = (await parsing.api.tasks.post({ title: "2026-12-01T17:00:00Z" })).data!;
    expect(task.title as unknown).toBeInstanceOf(Date);
    expect(task.created_at as unknown).toBeInstanceOf(Date);
  });
});

// --- type-level checks: `bun run typecheck` fails when any of these stops holding ---------------

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
type Data<F extends (...args: never[]) => Promise<{ data: unknown }>> = NonNullable<Awaited<ReturnType<F>>["data"]>;
type Client = ReturnType<typeof client>;
type One = ReturnType<Client["api"]["tasks"]>;
type Scoped = ReturnType<Client["api"]>["tasks"];
type ScopedOne = ReturnType<Scoped>;
type ErrorBody = { detail: string };

export type TypeChecks = [
  Expect<Equal<Data<Client["api"]["tasks"]["get"]>, Task[]>>,
  Expect<Equal<Data<Client["api"]["tasks"]["post"]>, Task>>,
  Expect<Equal<Data<One["get"]>, Task>>,
  Expect<Equal<Data<One["put"]>, Task>>,
  Expect<Equal<Data<One["patch"]>, Task>>,
  Expect<Equal<Data<One["complete"]["patch"]>, Task>>,
  Expect<Equal<Data<Scoped["get"]>, Task[]>>,
  Expect<Equal<Data<Scoped["post"]>, Task>>,
  Expect<Equal<Data<ScopedOne["get"]>, Task>>,
  Expect<Equal<Data<ScopedOne["put"]>, Task>>,
  Expect<Equal<Data<ScopedOne["patch"]>, Task>>,
  Expect<Equal<Data<ScopedOne["complete"]["patch"]>, Task>>,
  // An error's value is the contract's body for its status, never unknown.
  Expect<Equal<Extract<NonNullable<Awaited<ReturnType<One["get"]>>["error"]>, { status: 404 }>["value"], ErrorBody>>,
  Expect<Equal<Task["due_date"], string | null>>,
];
