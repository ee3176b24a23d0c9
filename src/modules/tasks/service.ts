// The tasks queries. Every function takes the caller's user id and puts it in every WHERE that reads
// or writes a task: isolation is a property of the query, not a check made after it.
import { and, asc, desc, eq, getTableColumns, ilike, or, sql, type SQL } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { priorityRank, tasks } from "../../db/schema.ts";
import { HttpError } from "../../http/errors.ts";
import { parseDueDate } from "./due-date.ts";
import { LIST_LIMIT_DEFAULT, type Task, type TaskCreate, type TaskListQuery, type TaskSort, type TaskUpdate } from "./model.ts";

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

type TaskRow = typeof tasks.$inferSelect;

function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    user_id: row.userId,
    title: row.title,
    description: row.description,
    completed: row.completed,
    priority: row.priority,
    due_date: row.dueDate?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

// PostgreSQL's uuid type rejects anything else with an error; such an id names no task.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function owned(userId: string, id: string): SQL | undefined {
  if (!UUID.test(id)) throw new TaskNotFoundError();
  return and(eq(tasks.id, id), eq(tasks.userId, userId));
}

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

/** The page of tasks, each row carrying the total count as an uncorrelated subquery, evaluated once. */
export function listQuery(db: Database, userId: string, query: TaskListQuery) {
  const { status = "all", priority, q, sort = "created", limit = LIST_LIMIT_DEFAULT, offset = 0 } = query;
  const where = and(
    eq(tasks.userId, userId),
    status === "all" ? undefined : eq(tasks.completed, status === "completed"),
    priority ? eq(tasks.priority, priority) : undefined,
    q ? or(ilike(tasks.title, containing(q)), ilike(tasks.description, containing(q))) : undefined,
  );
  return {
    where,
    page: db
      .select({ ...getTableColumns(tasks), total: db.$count(tasks, where) })
      .from(tasks)
      .where(where)
      .orderBy(...orderBy(sort, query.order ?? defaultOrder[sort]))
      .limit(limit)
      .offset(offset),
  };
}

export async function listTasks(db: Database, userId: string, query: TaskListQuery): Promise<TaskPage> {
  const { where, page } = listQuery(db, userId, query);
  const rows = await page;
  // One round trip, except for a page past the end, whose missing rows carry no count.
  const total = rows[0]?.total ?? ((query.offset ?? 0) > 0 ? await db.$count(tasks, where) : 0);
  return { tasks: rows.map(toTask), total };
}

export async function getTask(db: Database, userId: string, id: string): Promise<Task> {
  const [row] = await db.select().from(tasks).where(owned(userId, id));
  return row ? toTask(row) : notOwned(db, id);
}

export async function createTask(db: Database, userId: string, input: TaskCreate): Promise<Task> {
  const [row] = await db
    .insert(tasks)
    .values({ userId, ...columnsOf(input), title: input.title.trim() })
    .returning();
  return toTask(row!);
}

/** Writes only the fields given, so concurrent updates of different fields all survive. */
export async function updateTask(db: Database, userId: string, id: string, changes: TaskUpdate): Promise<Task> {
  const where = owned(userId, id);
  const values = columnsOf(changes);
  if (Object.keys(values).length === 0) return getTask(db, userId, id);
  const [row] = await db
    .update(tasks)
    .set({ ...values, updatedAt: nextUpdatedAt })
    .where(where)
    .returning();
  return row ? toTask(row) : notOwned(db, id);
}

/** Sets `completed`, or flips it when no value is given, in one atomic UPDATE. */
export async function completeTask(db: Database, userId: string, id: string, completed?: boolean): Promise<Task> {
  const [row] = await db
    .update(tasks)
    .set({ completed: completed ?? sql`not ${tasks.completed}`, updatedAt: nextUpdatedAt })
    .where(owned(userId, id))
    .returning();
  return row ? toTask(row) : notOwned(db, id);
}

export async function deleteTask(db: Database, userId: string, id: string): Promise<void> {
  const [row] = await db.delete(tasks).where(owned(userId, id)).returning({ id: tasks.id });
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
