// A task's fields, each declared once: its name in the contract, the table column behind it, and,
// for the fields a client writes, how a request's value is stored and what an absent one becomes.
// The SELECT list, the INSERT and UPDATE statements and the row-to-Task copy all come from here, so
// a new field is one entry here, its schema in model.ts and its column in db/schema.ts.
import { sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { tasks } from "../../db/schema.ts";
import { parseDueDate } from "./due-date.ts";
import type { Task, TaskUpdate } from "./model.ts";

type Column = keyof typeof tasks.$inferInsert;

interface Field {
  column: Column;
  /** A timestamp, which taskOf writes as the contract's text (see TaskRow). */
  time?: true;
  /** For a field a client writes: the column's value for a request's value, and for an absent one. */
  write?: { store(value: never): unknown; absent: unknown };
}

const asGiven = (value: unknown) => value;

export const taskFields = {
  id: { column: "id" },
  user_id: { column: "userId" },
  title: { column: "title", write: { store: (title: string) => title.trim(), absent: undefined } },
  description: { column: "description", write: { store: asGiven, absent: null } },
  completed: { column: "completed", write: { store: asGiven, absent: false } },
  priority: { column: "priority", write: { store: asGiven, absent: null } },
  // Passed as ISO text, not a Date: drizzle runs a prepared query's encoders on null too, and the
  // timestamp encoder throws on it, so writable values go in without the column's encoder.
  due_date: {
    column: "dueDate",
    time: true,
    write: { store: (text: string | null) => (text === null ? null : parseDueDate(text)!.toISOString()), absent: null },
  },
  created_at: { column: "createdAt", time: true },
  updated_at: { column: "updatedAt", time: true },
} as const satisfies Record<keyof Task, Field>;

type FieldName = keyof typeof taskFields;
export type WritableField = {
  [K in FieldName]: (typeof taskFields)[K] extends { write: object } ? K : never;
}[FieldName];

const names = Object.keys(taskFields) as FieldName[];
export const writableFields = names.filter((name) => "write" in taskFields[name]) as WritableField[];

const columnOf = (name: FieldName): AnyPgColumn => tasks[taskFields[name].column];

/**
 * A task's columns, each named as the contract names its field, so a row as the driver returns it
 * holds the Task but for its timestamps (taskOf): no drizzle mapping (is() checks per column per
 * row, 14.5% of a list request's CPU). Same rows on both drivers.
 */
export const taskColumns = Object.fromEntries(names.map((name) => [name, columnOf(name)])) as Record<
  FieldName,
  AnyPgColumn
>;

/** The same columns as a SELECT list, for statements written as SQL. */
export const taskSelection = sql.join(
  names.map((name) => sql`${columnOf(name)} as ${sql.identifier(name)}`),
  sql`, `,
);

type TimeField = { [K in FieldName]: (typeof taskFields)[K] extends { time: true } ? K : never }[FieldName];

/**
 * A task's row as the drivers return it: Bun.SQL reads a timestamp as a Date (an infinite one as
 * ±Infinity); PGlite, through drizzle's session, which sets its timestamp parsers aside, as
 * PostgreSQL's text ("2026-12-06 06:54:09.557+00").
 */
export type TaskRow = Omit<Task, TimeField> & { [K in TimeField]: Date | string | number | Extract<Task[K], null> };

const isTime = names.map((name) => "time" in taskFields[name]);

/** toISOString()'s text; null for `infinity`, which names no instant (as to_char gives none). */
function isoText(value: Date | string | number): string | null {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isFinite(date.getTime()) ? date.toISOString() : null;
}

/**
 * The Task in a row that may carry other columns (a list's total, a version), its timestamps in
 * toISOString()'s text. Made here, not by PostgreSQL's to_char: 0.32 µs a timestamp there, 150 of
 * them in a list of 50, was what a list cost PostgreSQL beyond the bench's baseline; toISOString
 * takes 0.24 µs, and a list served 1.05–1.08× as many requests (bench/notes/2026-12-06.md, R).
 */
export function taskOf(row: TaskRow): Task {
  // A loop over the names keeps the field table the one place fields are named; a rest pattern
  // (`{ total, ...task }`) would be shorter but copies through a slower path in a list's hot loop.
  const task = {} as Record<string, unknown>;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = row[name];
    task[name] = isTime[i] && value !== null ? isoText(value as Date | string | number) : value;
  }
  return task as Task;
}

/** The stored value of each writable field present in `input`; absent fields stay absent. */
export function storedValues(input: TaskUpdate): Partial<Record<WritableField, unknown>> {
  const values: Partial<Record<WritableField, unknown>> = {};
  for (const name of writableFields) {
    const value = input[name];
    if (value !== undefined) values[name] = (taskFields[name].write.store as (value: unknown) => unknown)(value);
  }
  return values;
}

/** The stored value of every writable field, absent ones as their defaults: one INSERT serves every body. */
export function createValues(input: TaskUpdate): Record<WritableField, unknown> {
  const values = storedValues(input);
  for (const name of writableFields) if (!(name in values)) values[name] = taskFields[name].write.absent;
  return values as Record<WritableField, unknown>;
}
