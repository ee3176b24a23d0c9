// The database layer on the driver under test: timestamps round-trip exactly (drizzle's bun-sql
// driver has open bugs there: drizzle-orm #4311, #5062) and the schema's constraints hold.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { embeddedVacuumJob } from "../src/db/housekeeping.ts";
import { tasks, users } from "../src/db/schema.ts";
import { driver, freshDatabase, queryRows, type TestDatabase } from "./helpers.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await freshDatabase();
  await database.db.insert(users).values({ id: "u1" });
}, 60_000);
afterAll(() => database.close());

describe(`database (${driver})`, () => {
  test("a timestamptz keeps its milliseconds and instant across time zones", async () => {
    const due = new Date("2026-12-01T17:00:00.123+02:00");
    const [created] = await database.db.insert(tasks).values({ userId: "u1", title: "t", dueDate: due }).returning();
    expect(created!.dueDate!.toISOString()).toBe("2026-12-01T15:00:00.123Z");
    // Read back under a session time zone far from UTC: the instant must not move.
    await database.db.execute(sql`set time zone 'Pacific/Kiritimati'`);
    const [read] = await database.db.select().from(tasks).where(eq(tasks.id, created!.id));
    expect(read!.dueDate!.toISOString()).toBe("2026-12-01T15:00:00.123Z");
    await database.db.execute(sql`set time zone 'UTC'`);
  });

  test("server-set timestamps carry milliseconds", async () => {
    const [row] = await database.db.insert(tasks).values({ userId: "u1", title: "ms" }).returning();
    expect(row!.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(row!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    expect(row!.createdAt.getTime()).toBe(row!.updatedAt.getTime());
  });

  // Each case must be refused by the constraint it names: "any error" would also pass for a typo in
  // a column name or a dropped constraint that some other rule happens to cover.
  test.each([
    ["an empty title", "tasks_title_length", { title: "" }],
    ["a title of 201 characters", "tasks_title_length", { title: "x".repeat(201) }],
    ["an untrimmed title", "tasks_title_length", { title: " x " }],
    ["a description of 1001 characters", "tasks_description_length", { title: "t", description: "d".repeat(1001) }],
    ["an unknown priority", "tasks_priority_value", { title: "t", priority: "urgent" as "low" }],
    ["an unknown user", "tasks_user_id_users_id_fk", { title: "t", userId: "nobody" }],
  ])("the schema refuses %s (%s)", async (_, constraint, values) => {
    const before = await database.db.$count(tasks);
    const refusal = await database.db
      .insert(tasks)
      .values({ userId: "u1", ...values })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect((refusal as { cause?: { constraint?: string } } | undefined)?.cause?.constraint).toBe(constraint);
    expect(await database.db.$count(tasks)).toBe(before);
  });

  test("deleting a user deletes their tasks", async () => {
    await database.db.insert(users).values({ id: "u2" });
    await database.db.insert(tasks).values({ userId: "u2", title: "goes with its user" });
    await database.db.delete(users).where(eq(users.id, "u2"));
    expect(await database.db.select().from(tasks).where(eq(tasks.userId, "u2"))).toEqual([]);
  });

  // PostgreSQL's default (a share of 20%) leaves a large table's pages unmarked for hundreds of
  // thousands of inserts, and the list's index-only scans read the heap meanwhile (migration 0009).
  test("tasks is vacuumed and analyzed after changes to 2% of its rows, inserts included", async () => {
    const options = await queryRows<{ option: string }>(
      database.db,
      sql`select unnest(reloptions) as option from pg_class where oid = 'tasks'::regclass order by 1`,
    );
    expect(options.map((row) => row.option)).toEqual([
      "autovacuum_analyze_scale_factor=0.02",
      "autovacuum_vacuum_insert_scale_factor=0.02",
      "autovacuum_vacuum_scale_factor=0.02",
    ]);
  });

  // PGlite is one backend with no autovacuum worker; the service's housekeeping does its work.
  test.skipIf(driver !== "pglite")(
    "the embedded database's vacuum job vacuums and analyzes tasks (PGlite only: PostgreSQL runs autovacuum)",
    async () => {
      const state = () =>
        queryRows<{ vacuumed: boolean; analyzed: boolean }>(
          database.db,
          sql`select last_vacuum is not null as vacuumed, last_analyze is not null as analyzed
            from pg_stat_user_tables where relname = 'tasks'`,
        );
      expect(await state()).toEqual([{ vacuumed: false, analyzed: false }]);
      await embeddedVacuumJob(database.db).run();
      expect(await state()).toEqual([{ vacuumed: true, analyzed: true }]);
    },
  );
});
