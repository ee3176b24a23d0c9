// The tasks queries. Every function takes the caller's user id and puts it in every WHERE that reads
// or writes a task: isolation is a property of the query, not a check made after it.
import { and, asc, desc, eq, ilike, or, type SQL, sql } from "drizzle-orm";
import type { PgInsertValue } from "drizzle-orm/pg-core";
import { fillPlaceholders } from "drizzle-orm/sql/sql";
import type { Database } from "../../db/client.ts";
import { preparedFor, rows } from "../../db/prepared.ts";
import { priorityRank, tasks } from "../../db/schema.ts";
import { HttpError } from "../../http/errors.ts";
import {
  createValues,
  storedValues,
  taskColumns,
  taskFields,
  taskOf,
  type WritableField,
  writableFields,
} from "./fields.ts";
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

// PostgreSQL's uuid type rejects anything else with an error; such an id names no task.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkedId(id: string): string {
  if (!UUID.test(id)) throw new TaskNotFoundError();
  return id;
}

const placeholder = sql.placeholder;
// A placeholder without the column's encoder (see taskFields' due_date).
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
interface ListShape {
  status: NonNullable<TaskListQuery["status"]>;
  byPriority: boolean;
  byText: boolean;
  sort: TaskSort;
  order: "asc" | "desc";
}

function listShape(query: TaskListQuery): ListShape {
  const { status = "all", sort = "created" } = query;
  return { status, byPriority: !!query.priority, byText: !!query.q, sort, order: query.order ?? defaultOrder[sort] };
}

const listShapeId = (shape: ListShape) =>
  `${shape.status} ${shape.byPriority} ${shape.byText} ${shape.sort} ${shape.order}`;

function listWhere({ status, byPriority, byText }: ListShape) {
  return and(
    eq(tasks.userId, placeholder("userId")),
    status === "all" ? undefined : eq(tasks.completed, status === "completed"),
    byPriority ? eq(tasks.priority, placeholder("priority")) : undefined,
    byText
      ? or(ilike(tasks.title, placeholder("pattern")), ilike(tasks.description, placeholder("pattern")))
      : undefined,
  );
}

// The page of tasks, each row carrying the total count as an uncorrelated subquery, evaluated once.
const listPage = preparedFor((db, shape: ListShape) => {
  const where = listWhere(shape);
  return db
    .select({ ...taskColumns, total: sql<number>`(select count(*)::int from ${tasks} where ${where})`.as("total") })
    .from(tasks)
    .where(where)
    .orderBy(...orderBy(shape.sort, shape.order))
    .limit(placeholder("limit"))
    .offset(placeholder("offset"))
    .prepare("list_tasks");
}, listShapeId);

// A page past the end has no row to carry the count.
const listCount = preparedFor(
  (db, shape: ListShape) =>
    db.select({ total: sql<number>`count(*)::int` }).from(tasks).where(listWhere(shape)).prepare("count_tasks"),
  listShapeId,
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
  return { tasks: page.map(taskOf), total };
}

const taskById = preparedFor((db, _: undefined) =>
  db.select(taskColumns).from(tasks).where(ownedTask).prepare("get_task"),
);

export async function getTask(db: Database, userId: string, id: string): Promise<Task> {
  const [task] = await rows<Task>(taskById(db, undefined), { id: checkedId(id), userId });
  return task ?? notOwned(db, id);
}

/** Each field's column set to the placeholder named for the field. */
const byColumn = (fields: readonly WritableField[]) =>
  Object.fromEntries(fields.map((name) => [taskFields[name].column, raw(name)])) as Partial<
    Record<keyof typeof tasks.$inferInsert, SQL>
  >;

// Every writable column is written, so one statement serves every body; absent fields get their defaults.
const insertTask = preparedFor((db, _: undefined) =>
  db
    .insert(tasks)
    .values({ userId: placeholder("userId"), ...byColumn(writableFields) } as PgInsertValue<typeof tasks>)
    .returning(taskColumns)
    .prepare("insert_task"),
);

export async function createTask(db: Database, userId: string, input: TaskCreate): Promise<Task> {
  const [task] = await rows<Task>(insertTask(db, undefined), { ...createValues(input), userId });
  return task!;
}

// One statement per set of fields written (at most 2^5), so a field not given is never touched.
const updateFields = preparedFor(
  (db, fields: readonly WritableField[]) =>
    db
      .update(tasks)
      .set({ ...byColumn(fields), updatedAt: nextUpdatedAt })
      .where(ownedTask)
      .returning(taskColumns)
      .prepare("update_task"),
  (fields) => fields.join(" "),
);

/** Writes only the fields given, so concurrent updates of different fields all survive. */
export async function updateTask(db: Database, userId: string, id: string, changes: TaskUpdate): Promise<Task> {
  checkedId(id);
  const values = storedValues(changes);
  const fields = writableFields.filter((name) => name in values);
  if (fields.length === 0) return getTask(db, userId, id);
  const [task] = await rows<Task>(updateFields(db, fields), { ...values, id, userId });
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
