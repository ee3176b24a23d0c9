// A list's X-Total-Count without counting the user's tasks. Counting read every matching index
// entry, so a list's time grew with the user's tasks (bench/notes/2026-12-06.md, E). Instead the
// user's row keeps how many of their tasks lie in each bucket (not completed or completed, times
// each priority or none), and the statement that writes a task moves it between buckets in the
// UPDATE of that row it makes anyway, under the same lock. A count of a text search (`q`) is still
// counted: no bucket holds it.
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

/** The user's row's counts as they stand, element k. */
const counted = (k: SQL) => sql`${users.taskCounts}[${k}]`;

/**
 * The SET assignments that move one task out of bucket `from` and into bucket `to` (either absent:
 * a create, a delete). Only those elements are written. When both name one bucket, both
 * assignments write it, each computed from the old value with 0 moved, so it keeps its value.
 */
export function moved(from: SQL | undefined, to: SQL | undefined): SQL {
  const moves = from && to ? sql`(${from} <> ${to})::int` : sql`1`;
  const changes = [
    from && sql`task_counts[${from}] = ${counted(from)} - ${moves}`,
    to && sql`task_counts[${to}] = ${counted(to)} + ${moves}`,
  ];
  return sql.join(
    changes.filter((change) => change !== undefined),
    sql`, `,
  );
}

/**
 * The bucket of a new task, as `bucket` computes it in SQL (a create names it, so its statement
 * builds no array), and a user's counts holding only it.
 */
export function newTaskBucket(completed: boolean, priority: string | null): { bucket: number; counts: string } {
  const rank = priority === null ? PER_STATUS - 1 : PRIORITIES.indexOf(priority as (typeof PRIORITIES)[number]);
  const k = 1 + PER_STATUS * Number(completed) + rank;
  return { bucket: k, counts: `{${Array.from({ length: TASK_BUCKETS }, (_, i) => Number(i + 1 === k)).join(",")}}` };
}

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
