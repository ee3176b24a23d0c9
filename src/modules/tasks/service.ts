// The tasks queries. Every function takes the caller's user id and puts it in every WHERE that reads
// or writes a task: isolation is a property of the query, not a check made after it.
import { and, asc, desc, eq, ilike, or, type SQL, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { fillPlaceholders } from "drizzle-orm/sql/sql";
import type { Database } from "../../db/client.ts";
import { priorityRank, tasks } from "../../db/schema.ts";
import { HttpError } from "../../http/errors.ts";
import { parseDueDate } from "./due-date.ts";
import {
  LIST_LIMIT_DEFAULT,
  type Task,
  type TaskCreate,
  type TaskListQuery,
  type TaskSort,
  type TaskUpdate,
} from "./model.ts";

export class TaskNotFoundError extends HttpError {
  constructor() {
    super(404, "Task not found");
  }
}

export class TaskForbiddenError extends HttpError {
  constructor() {
    super(403, "Not authorized to access this task");
  }
}

// Timestamps as the contract's ISO text, in exactly toISOString()'s form, made by PostgreSQL.
const isoText = (column: AnyPgColumn) =>
  sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A task's columns under the contract's names and in its types, so a row as the driver returns it
 * is the Task: no drizzle mapping (is() checks per column per row, 14.5% of a list request's CPU),
 * no Date made from a timestamp only to be turned back into text. Same rows on both drivers.
 */
const taskColumns = {
  id: tasks.id,
  user_id: tasks.userId,
  title: tasks.title,
  description: tasks.description,
  completed: tasks.completed,
  priority: tasks.priority,
  due_date: isoText(tasks.dueDate).as("due_date"),
  created_at: isoText(tasks.createdAt).as("created_at"),
  updated_at: isoText(tasks.updatedAt).as("updated_at"),
};

// PostgreSQL's uuid type rejects anything else with an error; such an id names no task.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkedId(id: string): string {
  if (!UUID.test(id)) throw new TaskNotFoundError();
  return id;
}

/**
 * Drizzle builds a query's SQL text from its builder on every call, and that cost more CPU than
 * the rest of a request: 117 µs to build getTask's SELECT, 256 µs a list page's, where the whole
 * request of a minimal Bun server costs ~55 µs (bench/). So each query shape is built once per
 * database, with placeholders (`sql.placeholder`), and only its parameters change per call.
 */
function preparedFor<Key, Query>(build: (db: Database, key: Key) => Query): (db: Database, key: Key) => Query {
  const byDatabase = new WeakMap<Database, Map<Key, Query>>();
  return (db, key) => {
    let queries = byDatabase.get(db);
    if (!queries) {
      queries = new Map();
      byDatabase.set(db, queries);
    }
    let query = queries.get(key);
    if (!query) {
      query = build(db, key);
      queries.set(key, query);
    }
    return query;
  };
}

const placeholder = sql.placeholder;
/** Runs a prepared query and returns its rows as the driver gives them (see taskColumns). */
function rows<Row>(query: object, values: Record<string, unknown>): Promise<Row[]> {
  // all() is how drizzle runs a prepared query without mapping; its type only lists execute().
  return (query as { all(values: Record<string, unknown>): Promise<Row[]> }).all(values);
}

// A placeholder without the column's encoder. Drizzle runs a prepared query's encoders on null
// too, and the timestamp encoder throws on it, so due dates are passed as ISO text instead.
const raw = (name: string) => sql`${placeholder(name)}`;
const ownedTask = and(eq(tasks.id, placeholder("id")), eq(tasks.userId, placeholder("userId")));

/**
 * Runs only after a query scoped to the caller found nothing, so the happy path pays no extra
 * round trip. It asks by id alone and learns only whether the task exists, to tell 403 from 404.
 */
async function notOwned(db: Database, id: string): Promise<never> {
  const [other] = await db.select({ id: tasks.id }).from(tasks).where(eq(tasks.id, id)).limit(1);
  throw other ? new TaskForbiddenError() : new TaskNotFoundError();
}

// Strictly later than the previous value even within one millisecond, so a client comparing
// updated_at always sees that a write happened.
const nextUpdatedAt = sql`greatest(now(), ${tasks.updatedAt} + interval '1 millisecond')`;

export const defaultOrder: Record<TaskSort, "asc" | "desc"> = {
  created: "desc",
  updated: "desc",
  priority: "desc",
  title: "asc",
  due_date: "asc",
};

// Ties break by created_at, then id, in the sort's own direction, so one index scan can serve a page.
function orderBy(sort: TaskSort, order: "asc" | "desc"): SQL[] {
  const direction = order === "asc" ? asc : desc;
  const tieBreak = [direction(tasks.createdAt), direction(tasks.id)];
  const nullsLast = (value: SQL | typeof tasks.dueDate) => sql`${value} ${sql.raw(order)} nulls last`;
  switch (sort) {
    case "created":
      return tieBreak;
    case "updated":
      return [direction(tasks.updatedAt), ...tieBreak];
    case "title":
      return [direction(sql`lower(${tasks.title})`), ...tieBreak];
    case "due_date":
      return [nullsLast(tasks.dueDate), ...tieBreak];
    case "priority":
      return [nullsLast(priorityRank), ...tieBreak];
  }
}

/** `%`, `_` and the escape character itself lose their LIKE meaning. */
function containing(text: string): string {
  return `%${text.replace(/[\\%_]/g, "\\$&")}%`;
}

export interface TaskPage {
  tasks: Task[];
  /** Matching tasks before limit and offset. */
  total: number;
}

/** What decides a list query's SQL text; everything else about a list is a parameter. */
function listShape(query: TaskListQuery): string {
  const { status = "all", sort = "created" } = query;
  return [status, query.priority ? "priority" : "", query.q ? "q" : "", sort, query.order ?? defaultOrder[sort]].join(
    " ",
  );
}

function listWhere(shape: string) {
  const [status, priority, q] = shape.split(" ");
  return and(
    eq(tasks.userId, placeholder("userId")),
    status === "all" ? undefined : eq(tasks.completed, status === "completed"),
    priority ? eq(tasks.priority, placeholder("priority")) : undefined,
    q ? or(ilike(tasks.title, placeholder("pattern")), ilike(tasks.description, placeholder("pattern"))) : undefined,
  );
}

// The page of tasks, each row carrying the total count as an uncorrelated subquery, evaluated once.
const listPage = preparedFor((db, shape: string) => {
  const [, , , sort, order] = shape.split(" ") as [string, string, string, TaskSort, "asc" | "desc"];
  const where = listWhere(shape);
  return db
    .select({ ...taskColumns, total: sql<number>`(select count(*)::int from ${tasks} where ${where})`.as("total") })
    .from(tasks)
    .where(where)
    .orderBy(...orderBy(sort, order))
    .limit(placeholder("limit"))
    .offset(placeholder("offset"))
    .prepare("list_tasks");
});

// A page past the end has no row to carry the count.
const listCount = preparedFor((db, shape: string) =>
  db.select({ total: sql<number>`count(*)::int` }).from(tasks).where(listWhere(shape)).prepare("count_tasks"),
);

function listValues(userId: string, query: TaskListQuery) {
  return {
    userId,
    priority: query.priority ?? null,
    pattern: query.q ? containing(query.q) : null,
    limit: query.limit ?? LIST_LIMIT_DEFAULT,
    offset: query.offset ?? 0,
  };
}

/** The SQL and parameters of a list page, as listTasks runs it, so its plan can be inspected. */
export function listQuery(db: Database, userId: string, query: TaskListQuery): { sql: string; params: unknown[] } {
  const { sql: text, params } = listPage(db, listShape(query)).getQuery();
  return { sql: text, params: fillPlaceholders(params, listValues(userId, query)) };
}

export async function listTasks(db: Database, userId: string, query: TaskListQuery): Promise<TaskPage> {
  const shape = listShape(query);
  const values = listValues(userId, query);
  const page = await rows<Task & { total: number }>(listPage(db, shape), values);
  // One round trip, except for a page past the end, whose missing rows carry no count.
  const total = page[0]?.total ?? (values.offset > 0 ? (await listCount(db, shape).execute(values))[0]!.total : 0);
  // Spelled out: a rest pattern (`{ total, ...task }`) copied each row at 8% of a list's CPU.
  const tasks = page.map(
    (row): Task => ({
      id: row.id,
      user_id: row.user_id,
      title: row.title,
      description: row.description,
      completed: row.completed,
      priority: row.priority,
      due_date: row.due_date,
      created_at: row.created_at,
      updated_at: row.updated_at,
    }),
  );
  return { tasks, total };
}

const taskById = preparedFor((db, _: undefined) =>
  db.select(taskColumns).from(tasks).where(ownedTask).prepare("get_task"),
);

export async function getTask(db: Database, userId: string, id: string): Promise<Task> {
  const [task] = await rows<Task>(taskById(db, undefined), { id: checkedId(id), userId });
  return task ?? notOwned(db, id);
}

// Every column is written, so one statement serves every body; absent fields get the defaults.
const insertTask = preparedFor((db, _: undefined) =>
  db
    .insert(tasks)
    .values({
      userId: placeholder("userId"),
      title: placeholder("title"),
      description: placeholder("description"),
      completed: placeholder("completed"),
      priority: placeholder("priority"),
      dueDate: raw("dueDate"),
    })
    .returning(taskColumns)
    .prepare("insert_task"),
);

export async function createTask(db: Database, userId: string, input: TaskCreate): Promise<Task> {
  const values = columnsOf(input);
  const [task] = await rows<Task>(insertTask(db, undefined), {
    userId,
    title: input.title.trim(),
    description: values.description ?? null,
    completed: values.completed ?? false,
    priority: values.priority ?? null,
    dueDate: values.dueDate?.toISOString() ?? null,
  });
  return task!;
}

const writable = ["title", "description", "completed", "priority", "dueDate"] as const;

// One statement per set of fields written (at most 2^5), so a field not given is never touched.
const updateFields = preparedFor((db, fields: string) =>
  db
    .update(tasks)
    .set({
      ...Object.fromEntries(fields.split(" ").map((field) => [field, raw(field)])),
      updatedAt: nextUpdatedAt,
    })
    .where(ownedTask)
    .returning(taskColumns)
    .prepare("update_task"),
);

/** Writes only the fields given, so concurrent updates of different fields all survive. */
export async function updateTask(db: Database, userId: string, id: string, changes: TaskUpdate): Promise<Task> {
  checkedId(id);
  const values = columnsOf(changes);
  const fields = writable.filter((field) => field in values);
  if (fields.length === 0) return getTask(db, userId, id);
  const [task] = await rows<Task>(updateFields(db, fields.join(" ")), {
    ...values,
    dueDate: values.dueDate?.toISOString() ?? null,
    id,
    userId,
  });
  return task ?? notOwned(db, id);
}

const setCompleted = preparedFor((db, toggle: boolean) =>
  db
    .update(tasks)
    .set({
      completed: toggle ? sql`not ${tasks.completed}` : sql`${placeholder("completed")}`,
      updatedAt: nextUpdatedAt,
    })
    .where(ownedTask)
    .returning(taskColumns)
    .prepare("complete_task"),
);

/** Sets `completed`, or flips it when no value is given, in one atomic UPDATE. */
export async function completeTask(db: Database, userId: string, id: string, completed?: boolean): Promise<Task> {
  const [task] = await rows<Task>(setCompleted(db, completed === undefined), { id: checkedId(id), userId, completed });
  return task ?? notOwned(db, id);
}

const deleteById = preparedFor((db, _: undefined) =>
  db.delete(tasks).where(ownedTask).returning({ id: tasks.id }).prepare("delete_task"),
);

export async function deleteTask(db: Database, userId: string, id: string): Promise<void> {
  const [row] = await deleteById(db, undefined).execute({ id: checkedId(id), userId });
  if (!row) await notOwned(db, id);
}

/** The table columns for the fields present in a request body; absent fields stay absent. */
function columnsOf(fields: TaskUpdate): Partial<typeof tasks.$inferInsert> {
  const values: Partial<typeof tasks.$inferInsert> = {};
  if (fields.title !== undefined) values.title = fields.title.trim();
  if (fields.description !== undefined) values.description = fields.description;
  if (fields.completed !== undefined) values.completed = fields.completed;
  if (fields.priority !== undefined) values.priority = fields.priority;
  if (fields.due_date !== undefined) values.dueDate = fields.due_date === null ? null : parseDueDate(fields.due_date);
  return values;
}
