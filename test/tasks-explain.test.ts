// The list query's plan for a user with 10,000 tasks among others' (ANALYZE'd): the filters and
// each sort in its default direction (created, updated and title in both) are an index scan that
// stops after the page, with no Sort step below it (the page's own rows may be sorted again once
// formatted); due_date desc and priority asc, which no index keeps in order, are two bounded index
// scans (keyed tasks, then keyless ones) whose rows alone are sorted; a `q` with three letters in a
// row is looked up in task_texts' trigram index. A change to the ORDER BY or to the indexes that
// loses this fails here, where the list tests would still pass.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type SQL, sql } from "drizzle-orm";
import type { TaskListQuery } from "../src/modules/tasks/model.ts";
import { listQuery } from "../src/modules/tasks/service.ts";
import { driver, freshDatabase, queryRows, type TestDatabase } from "./helpers.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await freshDatabase();
  const { db } = database;
  await db.execute(
    sql`insert into users (id) select 'user' || g from generate_series(1, 200) g union all select 'big'`,
  );
  // Titles, priorities, due dates and timestamps vary; a third of the tasks are completed.
  const seed = (owner: SQL, count: number) => sql`
    insert into tasks (user_id, title, description, completed, priority, due_date, created_at, updated_at)
    select ${owner}, 'Task ' || md5(g::text), case when g % 3 = 0 then md5((g * 7)::text) end, g % 3 = 0,
      (array['low', 'medium', 'high', null])[1 + g % 4],
      case when g % 2 = 0 then timestamptz '2026-01-01' + (g % 365) * interval '1 day' end,
      timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-06-01' + (g % 3000) * interval '1 minute'
    from generate_series(1, ${count}) g`;
  await db.execute(seed(sql`'big'`, 10_000));
  await db.execute(seed(sql`'user' || (1 + g % 200)`, 10_000));
  await db.execute(sql`vacuum analyze`);
}, 120_000);
afterAll(() => database.close());

async function plan(query: TaskListQuery): Promise<string> {
  const { sql: text, params } = listQuery(database.db, "big", query);
  const rows = await queryRows<Record<string, string>>(
    database.db,
    sql.raw(`explain (costs off) ${inline(text, params)}`),
  );
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}

/** EXPLAIN takes no bind parameters on every driver: literals in their place, quoted. */
function inline(text: string, params: unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = params[Number(n) - 1];
    return typeof value === "string" ? `'${value.replaceAll("'", "''")}'` : String(value);
  });
}

describe(`the list query plan for 10,000 tasks (${driver})`, () => {
  test.each<[string, TaskListQuery]>([
    ["the default list", {}],
    ["status=pending", { status: "pending" }],
    ["status=completed&priority=high", { status: "completed", priority: "high" }],
    ["order=asc", { order: "asc" }],
    ["sort=updated", { sort: "updated" }],
    ["sort=updated&order=asc", { sort: "updated", order: "asc" }],
    ["sort=title", { sort: "title" }],
    ["sort=title&order=desc&status=pending", { sort: "title", order: "desc", status: "pending" }],
    ["sort=due_date", { sort: "due_date" }],
    ["sort=priority&priority=low", { sort: "priority", priority: "low" }],
    ["a second page", { offset: 100 }],
  ])(
    "%s: an index scan in the page's order under the page's limit, no sort of it, no sequential scan",
    async (_, query) => {
      const text = await plan(query);
      const page = text.slice(text.indexOf("Subquery Scan"));
      expect(page).toMatch(/->\s+Limit\s+->\s+Index (Only )?Scan( Backward)? using tasks_user_\w+_idx on tasks\b/);
      expect(page).not.toContain("Sort");
      expect(text).not.toContain("Seq Scan on tasks");
    },
  );

  test.each<[string, TaskListQuery]>([
    ["sort=due_date&order=desc", { sort: "due_date", order: "desc" }],
    ["sort=priority&order=asc&status=pending", { sort: "priority", order: "asc", status: "pending" }],
  ])("%s: two limited index scans, one sort of what they read", async (_, query) => {
    const text = await plan(query);
    // Each scan under its own Limit; the page's count (an InitPlan) reads the index too.
    expect(text.match(/->\s+Limit\s+->\s+Index (Only )?Scan( Backward)? using tasks_user_\w+_idx/g)).toHaveLength(2);
    expect(text).not.toContain("Seq Scan on tasks");
  });

  test.each<[string, TaskListQuery]>([
    ["q=a3f9c", { q: "a3f9c" }],
    ["q=Task 9e4&status=pending&sort=title", { q: "Task 9e4", status: "pending", sort: "title" }],
  ])("%s: the matches come from the trigram index, not from reading the user's tasks", async (_, query) => {
    const text = await plan(query);
    expect(text).toMatch(/Bitmap Index Scan on task_texts_search_idx/);
    expect(text).not.toContain("Seq Scan on tasks");
  });

  test("q=9e, with no three letters in a row for a trigram, reads the user's tasks and not the index", async () => {
    expect(await plan({ q: "9e" })).not.toContain("task_texts");
  });
});
