// The list route's query parameters: filters, every sort in both orders (nulls last, ties by
// created_at then id), limit/offset paging with X-Total-Count, on tasks seeded with many equal
// timestamps so that only the tie-break keeps pages from repeating or skipping a task.
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { tasks } from "../src/db/schema.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, recountTasks, send, tokenFor, useTestApp } from "./helpers.ts";

const ctx = useTestApp();
let token: string;
let seeded: Task[];

const minute = (n: number) => new Date(Date.UTC(2026, 10, 1, 12, n));
// Letters only: PostgreSQL's collation and JavaScript agree on their order.
const titles = ["apple", "Apple", "banana", "Cherry", "cherry", "date", "Elder", "fig", "apple", "grape", "Banana"];
const descriptions = [
  null,
  "50% off",
  "5 percent off",
  "under_score",
  "underXscore",
  "back\\slash",
  "plain",
  "PERCENT",
  null,
  "%",
];
const priorities = [null, "low", "medium", "high"] as const;

beforeAll(async () => {
  token = await tokenFor("lister");
  await send(ctx.app, { path: "/api/tasks", token });
  // 44 tasks whose timestamps, titles, due dates and priorities repeat in groups.
  const rows = Array.from({ length: 44 }, (_, i) => ({
    userId: "lister",
    title: titles[i % titles.length]!,
    description: descriptions[i % descriptions.length]!,
    completed: i % 3 === 0,
    priority: priorities[i % priorities.length]!,
    dueDate: i % 5 === 0 ? null : minute(60 * (i % 4)),
    createdAt: minute(i % 4),
    updatedAt: minute(10 + (i % 6)),
  }));
  await ctx.db.insert(tasks).values(rows);
  // Another user's tasks share every value and must never show up.
  await send(ctx.app, { path: "/api/tasks", token: await tokenFor("other") });
  await ctx.db.insert(tasks).values(rows.map((row) => ({ ...row, userId: "other" })));
  // Rows inserted around the service carry no change number; sort=updated reads version order,
  // so number them as the feed's backfill migration does (updated_at, then created_at, id).
  await ctx.db.execute(sql`update tasks set version = v.n from (select id, row_number()
    over (partition by user_id order by updated_at, created_at, id) as n from tasks) as v where tasks.id = v.id`);
  await recountTasks(ctx.db);
  seeded = (await send<Task[]>(ctx.app, { path: "/api/tasks?limit=500", token })).body;
  expect(seeded).toHaveLength(44);
}, 60_000);

type Sort = "created" | "updated" | "title" | "due_date" | "priority";
const rank = { high: 3, medium: 2, low: 1 } as const;
const keyOf: Record<Sort, (task: Task) => string | number | null> = {
  created: (task) => task.created_at,
  updated: (task) => task.updated_at,
  title: (task) => task.title.toLowerCase(),
  due_date: (task) => task.due_date,
  priority: (task) => (task.priority ? rank[task.priority] : null),
};

/** The contract's order, written independently of the SQL: nulls last, then created_at, then id. */
function expectedOrder(list: Task[], sort: Sort, order: "asc" | "desc"): string[] {
  const sign = order === "asc" ? 1 : -1;
  const compare = (a: string | number, b: string | number) => (a < b ? -sign : a > b ? sign : 0);
  return [...list]
    .sort((a, b) => {
      const [x, y] = [keyOf[sort](a), keyOf[sort](b)];
      if (x === null || y === null) {
        if (x !== y) return x === null ? 1 : -1;
      } else if (x !== y) return compare(x, y);
      return compare(a.created_at, b.created_at) || compare(a.id, b.id);
    })
    .map((task) => task.id);
}

async function list(query: string): Promise<{ ids: string[]; tasks: Task[]; total: number; status: number }> {
  const answer = await send<Task[]>(ctx.app, { path: `/api/tasks?${query}`, token });
  return {
    status: answer.status,
    tasks: answer.body,
    ids: answer.body.map((task) => task.id),
    total: Number(answer.headers.get("x-total-count")),
  };
}

const defaults: Record<Sort, "asc" | "desc"> = {
  created: "desc",
  updated: "desc",
  priority: "desc",
  title: "asc",
  due_date: "asc",
};
const sorts = Object.keys(defaults) as Sort[];

describe(`sorting (${driver})`, () => {
  test("the seed has the ties this file relies on", () => {
    const createdGroups = new Set(seeded.map((task) => task.created_at));
    expect(createdGroups.size).toBe(4);
    expect(seeded.filter((task) => task.due_date === null).length).toBeGreaterThan(5);
    expect(seeded.filter((task) => task.priority === null).length).toBeGreaterThan(5);
  });

  test("without parameters: newest first, ties by created_at then id", async () => {
    const { ids, total } = await list("");
    expect(ids).toEqual(expectedOrder(seeded, "created", "desc"));
    expect(total).toBe(44);
  });

  test.each(sorts)("sort=%s without order uses the contract's default direction", async (sort) => {
    expect((await list(`sort=${sort}&limit=500`)).ids).toEqual(expectedOrder(seeded, sort, defaults[sort]));
  });

  const cases = sorts.flatMap((sort) => (["asc", "desc"] as const).map((order) => [sort, order] as const));
  test.each(cases)("sort=%s&order=%s", async (sort, order) => {
    const { ids } = await list(`sort=${sort}&order=${order}&limit=500`);
    expect(ids).toEqual(expectedOrder(seeded, sort, order));
  });

  test.each([
    ["due_date", "due_date"],
    ["priority", "priority"],
  ] as const)("tasks without a %s come last in both orders", async (sort, field) => {
    const withoutValue = seeded.filter((task) => task[field] === null).length;
    for (const order of ["asc", "desc"]) {
      const { tasks: page } = await list(`sort=${sort}&order=${order}&limit=500`);
      const firstNull = page.findIndex((task) => task[field] === null);
      expect(firstNull).toBe(page.length - withoutValue);
      expect(page.slice(firstNull).every((task) => task[field] === null)).toBe(true);
    }
  });

  test("priority desc is high, medium, low, then none", async () => {
    const { tasks: page } = await list("sort=priority&limit=500");
    const order = [...new Set(page.map((task) => task.priority))];
    expect(order).toEqual(["high", "medium", "low", null]);
  });

  test("title sorts case-insensitively", async () => {
    const { tasks: page } = await list("sort=title&limit=500");
    const lowered = page.map((task) => task.title.toLowerCase());
    expect(lowered).toEqual([...lowered].sort());
    expect(page.map((task) => task.title)).not.toEqual(page.map((task) => task.title).sort());
  });
});

describe(`paging (${driver})`, () => {
  const pagings = sorts.flatMap((sort) => (["asc", "desc"] as const).map((order) => [sort, order] as const));
  test.each(pagings)("sort=%s&order=%s in pages of 5: no repeats, no skips, same total", async (sort, order) => {
    const walked: string[] = [];
    for (let offset = 0; offset < 50; offset += 5) {
      const page = await list(`sort=${sort}&order=${order}&limit=5&offset=${offset}`);
      expect(page.total).toBe(44);
      expect(page.ids.length).toBe(Math.max(0, Math.min(5, 44 - offset)));
      walked.push(...page.ids);
    }
    expect(walked).toEqual(expectedOrder(seeded, sort, order));
  });

  test("a page past the end is empty and still counts every match", async () => {
    for (const query of [
      "offset=44",
      "offset=1000",
      "offset=9007199254740991",
      "status=pending&offset=500",
      "sort=due_date&order=desc&offset=9007199254740991",
    ]) {
      const page = await list(query);
      expect([query, page.status, page.ids]).toEqual([query, 200, []]);
      expect(page.total).toBe(query.startsWith("status") ? seeded.filter((task) => !task.completed).length : 44);
    }
  });

  test("limit defaults to 100 and stops at 500", async () => {
    const many = await tokenFor("many");
    await send(ctx.app, { path: "/api/tasks", token: many });
    await ctx.db
      .insert(tasks)
      .values(Array.from({ length: 501 }, (_, i) => ({ userId: "many", title: `t${i}`, createdAt: minute(i % 7) })));
    await recountTasks(ctx.db);
    const answer = await send<Task[]>(ctx.app, { path: "/api/tasks", token: many });
    expect(answer.body).toHaveLength(100);
    expect(answer.headers.get("x-total-count")).toBe("501");
    expect((await send<Task[]>(ctx.app, { path: "/api/tasks?limit=500", token: many })).body).toHaveLength(500);
    expect((await send(ctx.app, { path: "/api/tasks?limit=501", token: many })).status).toBe(400);
  });

  test("a user with no tasks gets an empty list and a count of 0", async () => {
    const empty = await send(ctx.app, { path: "/api/tasks", token: await tokenFor("nobody-yet") });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual([]);
    expect(empty.headers.get("x-total-count")).toBe("0");
  });
});

describe(`filters (${driver})`, () => {
  const matching = (predicate: (task: Task) => boolean) => expectedOrder(seeded.filter(predicate), "created", "desc");

  test.each([
    ["status=all", () => true],
    ["status=pending", (task: Task) => !task.completed],
    ["status=completed", (task: Task) => task.completed],
    ["priority=high", (task: Task) => task.priority === "high"],
    ["priority=medium", (task: Task) => task.priority === "medium"],
    ["priority=low", (task: Task) => task.priority === "low"],
    ["status=pending&priority=low", (task: Task) => !task.completed && task.priority === "low"],
    ["status=completed&priority=high&sort=created", (task: Task) => task.completed && task.priority === "high"],
  ])("%s", async (query, predicate) => {
    const page = await list(query);
    expect(page.ids).toEqual(matching(predicate));
    expect(page.total).toBe(page.ids.length);
  });

  const includes = (text: string) => (task: Task) =>
    task.title.toLowerCase().includes(text.toLowerCase()) ||
    (task.description ?? "").toLowerCase().includes(text.toLowerCase());

  test.each([
    ["a word in titles, any case", "APPLE"],
    ["a word in descriptions", "percent"],
    ["a literal %", "%"],
    ["50%", "50%"],
    ["a literal _", "under_score"],
    ["_ alone", "_"],
    ["a backslash", "back\\slash"],
    ["a lone backslash", "\\"],
    ["text found nowhere", "zebra"],
  ])("q with %s matches it literally, case-insensitively, in title or description", async (_, q) => {
    const page = await list(`q=${encodeURIComponent(q)}&limit=500`);
    expect(page.ids).toEqual(matching(includes(q)));
    expect(page.total).toBe(page.ids.length);
  });

  test("q=% does not match everything, and q=_ not every description", async () => {
    expect((await list("q=%25")).ids.length).toBeLessThan(44);
    expect((await list("q=_")).ids.length).toBe(seeded.filter((task) => task.description?.includes("_")).length);
  });

  test("q combines with status, priority, sort and paging", async () => {
    const all = expectedOrder(
      seeded.filter((task) => includes("e")(task) && !task.completed && task.priority === "high"),
      "title",
      "desc",
    );
    expect(all.length).toBeGreaterThan(3);
    const page = await list("q=e&status=pending&priority=high&sort=title&order=desc&limit=2&offset=1");
    expect(page.ids).toEqual(all.slice(1, 3));
    expect(page.total).toBe(all.length);
  });
});
