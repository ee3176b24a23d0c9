// A list's X-Total-Count without counting the user's tasks. Counting read every matching index entry,
// so a user with 100,000 tasks waited 9 times longer than one with 50 for the same page
// (bench/notes/). Instead the user's row keeps how many of their tasks lie in each bucket (not
// completed or completed, times each priority or none), and the statement that writes a task moves
// it between buckets in the UPDATE of that row it makes anyway, under the same lock. A count of a
// text search (`q`) is still counted: no bucket holds it.
//
// The bucket a task leaves must be its newest committed state. The statement's snapshot can be
// older: it was taken before the statement waited behind another write of the task. So a write
// reads the task FOR NO KEY UPDATE, which in READ COMMITTED returns the newest version of a row
// whatever the snapshot; a plain read there returned the task as it was before the write it waited
// for, and the counts drifted (test/tasks-counts.test.ts).
import { type SQL, sql } from "drizzle-orm";
import { type AnyPgColumn, PgDialect } from "drizzle-orm/pg-core";
import { TASK_BUCKETS, users } from "../../db/schema.ts";
import { PRIORITIES } from "../../rules.ts";
import type { TaskListQuery } from "./model.ts";

type Value = SQL | AnyPgColumn;

// Not completed first, then completed; within each, PRIORITIES in order, then none.
const PER_STATUS = TASK_BUCKETS / 2;
const literal = (n: number) => sql.raw(String(n));

/** A priority's place within its status, 0 to PER_STATUS - 1 (none last). */
const rank = (priority: Value) =>
  sql`case ${priority} ${sql.raw(PRIORITIES.map((p, i) => `when '${p}' then ${i}`).join(" "))} else ${literal(PER_STATUS - 1)} end`;

/** The 1-based bucket of a task with this completed and priority. */
export const bucket = (completed: Value, priority: Value): SQL =>
  sql`(1 + ${literal(PER_STATUS)} * (${completed})::int + ${rank(priority)})`;

/**
 * The counts array with one task moved out of bucket `from` and into bucket `to` (either absent for
 * a create or a delete), element by element from `base(k)`: one expression, so a task that stays in
 * its bucket adds and takes away the same one.
 */
export function moved(base: (k: SQL) => SQL, from: SQL | undefined, to: SQL | undefined): SQL {
  const elements = Array.from({ length: TASK_BUCKETS }, (_, i) => {
    const k = literal(i + 1);
    const into = to ? sql` + (${to} = ${k})::int` : sql``;
    const out = from ? sql` - (${from} = ${k})::int` : sql``;
    return sql`${base(k)}${into}${out}`;
  });
  return sql`array[${sql.join(elements, sql`, `)}]`;
}

/** The user's row's counts as they stand, element k. */
export const counted = (k: SQL) => sql`${users.taskCounts}[${k}]`;

/** The tasks of the user's row that a list without `q` matches, from its counts. */
export function matchingCount(status: NonNullable<TaskListQuery["status"]>, priority: SQL | undefined): SQL {
  const statuses = status === "all" ? [0, 1] : [status === "completed" ? 1 : 0];
  const ranks = priority ? [rank(priority)] : Array.from({ length: PER_STATUS }, (_, r) => literal(r));
  const terms = statuses.flatMap((s) => ranks.map((r) => counted(sql`${literal(1 + s * PER_STATUS)} + ${r}`)));
  return sql.join(terms, sql` + `);
}

/**
 * Sets every user's counts from their tasks: what the service's writes keep, made again for rows
 * written around the service (a seed, a test's fixture, a hand edit). Plain SQL text, for either driver.
 */
export const RECOUNT_SQL = new PgDialect().sqlToQuery(
  sql`update ${users} set task_counts = (select array[${sql.join(
    Array.from(
      { length: TASK_BUCKETS },
      (_, i) => sql`count(*) filter (where ${bucket(sql`completed`, sql`priority`)} = ${literal(i + 1)})`,
    ),
    sql`, `,
  )}]::int[] from tasks where tasks.user_id = ${users.id})`,
).sql;
