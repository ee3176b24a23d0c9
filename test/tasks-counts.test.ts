// X-Total-Count comes from counts each write keeps in the user's row (src/modules/tasks/counts.ts),
// not from counting. These tests hold the counts to the tasks themselves: after every kind of write,
// after writes that race, and after a write whose statement waited behind another that changed its
// task (the case a plain read of the task's old state got wrong).
import { describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { RECOUNT_SQL } from "../src/modules/tasks/counts.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { PRIORITIES } from "../src/rules.ts";
import { type Answer, driver, lockHolder, queryRows, send, someoneWaits, tokenFor, useTestApp } from "./helpers.ts";

const ctx = useTestApp();

const STATUSES = ["all", "pending", "completed"] as const;
const FILTERS = STATUSES.flatMap((status) =>
  [undefined, ...PRIORITIES].map((priority) => `status=${status}${priority ? `&priority=${priority}` : ""}`),
);

/** The stored counts of every user, and what counting their tasks gives, side by side. */
async function storedAndCounted(): Promise<{ stored: unknown; counted: unknown }> {
  const read = () =>
    queryRows<{ id: string; counts: number[] }>(ctx.db, sql`select id, task_counts as counts from users order by id`);
  const stored = await read();
  // The recount in a transaction that is rolled back: the check leaves the counts as it found them.
  let counted: unknown;
  await ctx.db
    .transaction(async (tx) => {
      await tx.execute(sql.raw(RECOUNT_SQL));
      counted = await queryRows(tx, sql`select id, task_counts as counts from users order by id`);
      tx.rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Error && error.message === "Rollback")) throw error;
    });
  return { stored, counted };
}

/** Each filter's X-Total-Count beside the number of tasks its whole listing holds. */
async function totalsAndListed(token: string): Promise<[string, string | null, number][]> {
  return Promise.all(
    FILTERS.map(async (filter) => {
      const answer = await send<Task[]>(ctx.app, { path: `/api/tasks?${filter}&limit=500`, token });
      expect(answer.status).toBe(200);
      return [filter, answer.headers.get("x-total-count"), answer.body.length] as [string, string | null, number];
    }),
  );
}

const expectTotalsExact = async (token: string) => {
  const rows = await totalsAndListed(token);
  expect(rows).toEqual(rows.map(([filter, , listed]) => [filter, String(listed), listed]));
};

/** A small deterministic generator, so a failing sequence is the same on the next run. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

type Write = (task: Task) => Promise<Answer>;

/**
 * Every write that can move a task between counts, with the values drawn from `next`; with `keyed`,
 * half of them carry an Idempotency-Key (a keyed write takes its turns in another order of locks).
 */
function writes(token: string, next: () => number, keyed = false): Write[] {
  const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)]!;
  const priority = () => pick([...PRIORITIES, null]);
  const path = (task: Task) => `/api/tasks/${task.id}`;
  const write = (method: string, to: string, body?: object, headers: Record<string, string> = {}) =>
    send(ctx.app, {
      method,
      path: to,
      token,
      body,
      headers: keyed && next() < 0.5 ? { ...headers, "idempotency-key": crypto.randomUUID() } : headers,
    });
  return [
    (task) => write("PATCH", `${path(task)}/complete`),
    (task) => write("PATCH", `${path(task)}/complete`, { completed: next() < 0.5 }),
    (task) => write("PATCH", path(task), { priority: priority() }),
    (task) => write("PATCH", path(task), { completed: next() < 0.5 }),
    (task) => write("PATCH", path(task), { title: "renamed" }),
    (task) => write("PUT", path(task), { title: "put", completed: next() < 0.5, priority: priority() }),
    (task) => write("PUT", path(task), { title: "put, nothing else" }),
    // A write refused for its version (412) moves nothing.
    (task) => write("PATCH", `${path(task)}/complete`, undefined, { "if-match": '"1"' }),
    (task) => write("DELETE", path(task)),
  ];
}

async function createSome(token: string, count: number, next: () => number): Promise<Task[]> {
  const created: Task[] = [];
  for (let i = 0; i < count; i++) {
    const priority = [...PRIORITIES, undefined][Math.floor(next() * 4)];
    const body = { title: `task ${i}`, completed: next() < 0.3, ...(priority ? { priority } : {}) };
    const answer = await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token, body });
    expect(answer.status).toBe(201);
    created.push(answer.body);
  }
  return created;
}

describe(`X-Total-Count from the kept counts (${driver})`, () => {
  test("a new user's totals are 0 for every filter", async () => {
    const token = await tokenFor("counts-new");
    const rows = await totalsAndListed(token);
    expect(rows).toEqual(FILTERS.map((filter) => [filter, "0", 0]));
  });

  test("300 writes of every kind, one at a time: every filter's total equals its listing, the counts their tasks", async () => {
    const next = random(18);
    const token = await tokenFor("counts-serial");
    let live = await createSome(token, 30, next);
    const all = writes(token, next);
    for (let i = 0; i < 300; i++) {
      if (live.length === 0) live = await createSome(token, 5, next);
      const task = live[Math.floor(next() * live.length)]!;
      const write = all[Math.floor(next() * all.length)]!;
      const answer = await write(task);
      expect([200, 204, 412]).toContain(answer.status);
      if (answer.status === 204) live = live.filter((t) => t.id !== task.id);
      if (i % 50 === 49) await expectTotalsExact(token);
    }
    await expectTotalsExact(token);
    const { stored, counted } = await storedAndCounted();
    expect(stored).toEqual(counted);
  }, 60_000);

  test("a text search's total is counted: it equals its listing", async () => {
    const token = await tokenFor("counts-search");
    await createSome(token, 12, random(7));
    const answer = await send<Task[]>(ctx.app, { path: "/api/tasks?q=task%201&limit=500", token });
    expect(answer.body.map((task) => task.title).sort()).toEqual(["task 1", "task 10", "task 11"]);
    expect(answer.headers.get("x-total-count")).toBe("3");
  });

  test("writes of the user's tasks from 8 requests at a time, half with keys, 25 rounds: no 5xx, the counts stay exact", async () => {
    const next = random(23);
    const token = await tokenFor("counts-racing");
    let live = await createSome(token, 8, next);
    const all = writes(token, next, true);
    for (let round = 0; round < 25; round++) {
      if (live.length < 4) live = [...live, ...(await createSome(token, 4, next))];
      // Several writes of one task at once: the requests queue on the user's row lock.
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => all[Math.floor(next() * all.length)]!(live[Math.floor(next() * 3)]!)),
      );
      for (const answer of answers) expect([200, 204, 404, 412]).toContain(answer.status);
      const listed = await send<Task[]>(ctx.app, { path: "/api/tasks?limit=500", token });
      const ids = new Set(listed.body.map((task) => task.id));
      live = live.filter((task) => ids.has(task.id));
    }
    await expectTotalsExact(token);
    const { stored, counted } = await storedAndCounted();
    expect(stored).toEqual(counted);
  }, 120_000);
});

// PostgreSQL only: PGlite runs one statement at a time, so no statement's snapshot is ever older than
// the task it reads.
describe.skipIf(driver === "pglite")(`a write that waited behind another write of its task (${driver})`, () => {
  // The holder stands for another write of the same task: it locks the task, as a write does
  // first, changes it (and the counts, as a write would) and commits while the request's statement
  // waits with a snapshot from before that change. The request must move the task from where it is
  // now.
  test.each<[string, (task: Task, token: string) => Promise<Answer>, string]>([
    [
      "a toggle",
      (task, token) => send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token }),
      "update tasks set completed = not completed where id = $1",
    ],
    [
      "an update of completed, after a change of priority",
      (task, token) =>
        send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}`, token, body: { completed: true } }),
      "update tasks set priority = 'high' where id = $1",
    ],
    [
      "a delete",
      (task, token) => send(ctx.app, { method: "DELETE", path: `/api/tasks/${task.id}`, token }),
      "update tasks set completed = true, priority = 'low' where id = $1",
    ],
  ])("%s moves the task from its newest state, not its snapshot's", async (_, write, change) => {
    const sub = `counts-waited-${crypto.randomUUID()}`;
    const token = await tokenFor(sub);
    const created = await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "t" } });
    const holder = lockHolder(ctx.database.url!);
    let answer: Promise<Answer> | undefined;
    await holder.begin(async (tx) => {
      await tx.unsafe("select 1 from tasks where id = $1 for no key update", [created.body.id]);
      answer = write(created.body, token);
      await someoneWaits(tx);
      await tx.unsafe(change, [created.body.id]);
      await tx.unsafe(RECOUNT_SQL);
    });
    await holder.close();
    expect((await answer!).status).toBeLessThan(300);
    await expectTotalsExact(token);
    const { stored, counted } = await storedAndCounted();
    expect(stored).toEqual(counted);
  });
});
