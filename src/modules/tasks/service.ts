// The tasks queries. Every function takes the caller's user id and puts it in every WHERE that reads
// or writes a task: isolation is a property of the query, not a check made after it.
import { and, asc, desc, eq, ilike, or, type SQL, sql } from "drizzle-orm";
import type { AnyPgColumn, PgInsertValue } from "drizzle-orm/pg-core";
import { fillPlaceholders } from "drizzle-orm/sql/sql";
import type { UserIdentity } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { preparedFor, preparedSql, rows } from "../../db/prepared.ts";
import { priorityRank, tasks, taskTexts, taskTombstones, users } from "../../db/schema.ts";
import { HttpError } from "../../http/errors.ts";
import { LIST_LIMIT_DEFAULT } from "../../rules.ts";
import { bucket, matchingCount, moved, newTaskBucket } from "./counts.ts";
import { taskEtag } from "./etag.ts";
import {
  createValues,
  storedValues,
  type TaskRow,
  taskColumns,
  taskFields,
  taskOf,
  taskSelection,
  type WritableField,
  writableFields,
} from "./fields.ts";
import type { Task, TaskCreate, TaskListQuery, TaskSort, TaskUpdate } from "./model.ts";

class TaskNotFoundError extends HttpError {
  constructor() {
    super(404, "Task not found");
  }
}

class TaskForbiddenError extends HttpError {
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

const defaultOrder: Record<TaskSort, "asc" | "desc"> = {
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
      // The same order as updated_at: both come from the user's clock under one lock (nextNumber).
      // One index serves it and the change feed (db/schema.ts).
      return [direction(tasks.version), ...tieBreak];
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

interface TaskPage {
  tasks: Task[];
  /** Matching tasks before limit and offset. */
  total: number;
  /** The user's `generation.change_seq` in the same snapshot: it moves whenever any task of theirs changes. */
  state: string;
}

/**
 * How a list filters by `q`: not at all; through task_texts' trigram index; or by reading each of
 * the user's tasks, when `q` holds no three letters or digits in a row (ASCII, word characters in
 * every locale). From such a text pg_trgm takes no trigram, and an index search without one reads
 * the whole index.
 */
type TextFilter = "none" | "indexed" | "scanned";
const textFilter = (q: string | undefined): TextFilter =>
  !q ? "none" : /[a-z0-9]{3}/i.test(q) ? "indexed" : "scanned";

/** What decides a list query's SQL text; everything else about a list is a parameter. */
interface ListShape {
  status: NonNullable<TaskListQuery["status"]>;
  byPriority: boolean;
  byText: TextFilter;
  sort: TaskSort;
  order: "asc" | "desc";
}

function listShape(query: TaskListQuery): ListShape {
  const { status = "all", sort = "created" } = query;
  const order = query.order ?? defaultOrder[sort];
  return { status, byPriority: !!query.priority, byText: textFilter(query.q), sort, order };
}

const listShapeId = (shape: ListShape) =>
  `${shape.status} ${shape.byPriority} ${shape.byText} ${shape.sort} ${shape.order}`;

// The same test either way: task_texts holds each task's title and description as they are.
const containsPattern = (title: AnyPgColumn, description: AnyPgColumn) =>
  or(ilike(title, placeholder("pattern")), ilike(description, placeholder("pattern")));

const textCondition: Record<TextFilter, SQL | undefined> = {
  none: undefined,
  indexed: sql`${tasks.id} in (select ${taskTexts.taskId} from ${taskTexts}
    where ${and(eq(taskTexts.userId, placeholder("userId")), containsPattern(taskTexts.title, taskTexts.description))})`,
  scanned: containsPattern(tasks.title, tasks.description),
};

function listWhere({ status, byPriority, byText }: ListShape) {
  return and(
    eq(tasks.userId, placeholder("userId")),
    status === "all" ? undefined : eq(tasks.completed, status === "completed"),
    byPriority ? eq(tasks.priority, placeholder("priority")) : undefined,
    textCondition[byText],
  );
}

// The list's total: from the user's counts (counts.ts), or counted when `q` filters by text.
function listTotal(shape: ListShape, where: SQL | undefined): SQL {
  if (shape.byText !== "none") return sql`(select count(*)::int from ${tasks} where ${where})`;
  const count = matchingCount(shape.status, shape.byPriority ? sql`${placeholder("priority")}` : undefined);
  return sql`coalesce((select ${count} from ${users} where ${users.id} = ${placeholder("userId")}), 0)`;
}

// The user's state, read in the list's own statement so the list's ETag names exactly that snapshot.
const userState = sql<string>`(select ${users.generation} || '.' || ${users.changeSeq} from ${users}
  where ${users.id} = ${placeholder("userId")})`;

// The page of tasks, each row carrying the total count and the user's state as uncorrelated
// subqueries, evaluated once. The page is chosen in a subquery of plain rows and only its rows are
// formatted: a scan formats every row it reads, and a deep page reads `offset` rows it then skips
// (offset=5000 of 100,000 tasks: 14.3 ms formatting all, 2.5 ms formatting the page, in bench/notes).
const listPage = preparedFor((db, shape: ListShape) => {
  const where = listWhere(shape);
  const order = sql.join(orderBy(shape.sort, shape.order), sql`, `);
  return preparedSql(
    db,
    "list_tasks",
    sql`select ${taskSelection}, ${listTotal(shape, where)} as total, ${userState} as state
      from (select * from ${tasks} where ${where} order by ${order}
        limit ${placeholder("limit")} offset ${placeholder("offset")}) as ${tasks}
      order by ${order}`,
  );
}, listShapeId);

// The two sort directions no index keeps in order: due_date desc and priority asc, both with the
// tasks that lack the key last. The index of each sort, scanned backward, gives the keyed tasks in
// that order and then, separately, the keyless ones in created_at, id order; so the page is read
// as two bounded index scans (each at most offset + limit rows), and only those are sorted. One
// ORDER BY over all of a user's tasks instead sorted all 100,000 of a heavy user's (bench:scale).
// The keyed scan says "nulls first", which a backward scan of those indexes gives and which, with no
// null among its rows, changes nothing: without it the planner cannot use the index's order. The
// union is named "tasks" so the SELECT list and ORDER BY written for the table read from it.
const reversedKey: Partial<Record<TaskSort, SQL | typeof tasks.dueDate>> = {
  due_date: tasks.dueDate,
  priority: priorityRank,
};
const isReversed = ({ sort, order }: ListShape) => reversedKey[sort] !== undefined && order !== defaultOrder[sort];

const reversedListPage = preparedFor((db, shape: ListShape) => {
  const where = listWhere(shape);
  const key = reversedKey[shape.sort]!;
  const direction = sql.raw(shape.order);
  const branch = (keyed: boolean) => sql`(select * from ${tasks}
    where ${where} and ${key} is ${sql.raw(keyed ? "not null" : "null")}
    order by ${keyed ? sql`${key} ${direction} nulls first, ` : sql``}${tasks.createdAt} ${direction}, ${tasks.id} ${direction}
    limit ${placeholder("window")})`;
  return preparedSql(
    db,
    "list_tasks_reversed",
    sql`select ${taskSelection}, ${listTotal(shape, where)} as total, ${userState} as state
      from (${branch(true)} union all ${branch(false)}) as ${tasks}
      order by ${sql.join(orderBy(shape.sort, shape.order), sql`, `)}
      limit ${placeholder("limit")} offset ${placeholder("offset")}`,
  );
}, listShapeId);

// An empty page has no row to carry the count and the state.
const listCount = preparedFor(
  (db, shape: ListShape) =>
    preparedSql(db, "count_tasks", sql`select ${listTotal(shape, listWhere(shape))} as total, ${userState} as state`),
  listShapeId,
);

function listValues(userId: string, query: TaskListQuery) {
  return {
    userId,
    priority: query.priority ?? null,
    pattern: query.q ? containing(query.q) : null,
    limit: query.limit ?? LIST_LIMIT_DEFAULT,
    offset: query.offset ?? 0,
    // What each of a reversed sort's two scans may have to read (reversedListPage).
    window: Math.min(Number.MAX_SAFE_INTEGER, (query.limit ?? LIST_LIMIT_DEFAULT) + (query.offset ?? 0)),
  };
}

const pageQuery = (db: Database, shape: ListShape) =>
  isReversed(shape) ? reversedListPage(db, shape) : listPage(db, shape);

/** The SQL and parameters of a list page, as listTasks runs it, so its plan can be inspected. */
export function listQuery(db: Database, userId: string, query: TaskListQuery): { sql: string; params: unknown[] } {
  const shape = listShape(query);
  const prepared = pageQuery(db, shape) as { getQuery(): { sql: string; params: unknown[] } };
  const { sql: text, params } = prepared.getQuery();
  return { sql: text, params: fillPlaceholders(params, listValues(userId, query)) };
}

export async function listTasks(db: Database, userId: string, query: TaskListQuery): Promise<TaskPage> {
  const shape = listShape(query);
  const values = listValues(userId, query);
  const page = await rows<TaskRow & { total: number; state: string }>(pageQuery(db, shape), values);
  // One round trip, except for an empty page, whose missing rows carry no count.
  const { total, state } = page[0] ?? (await rows<{ total: number; state: string }>(listCount(db, shape), values))[0]!;
  return { tasks: page.map(taskOf), total, state: state ?? "" };
}

/** Everything that decides a list's answer besides the user's tasks, as one text (for its ETag). */
export function listKey(query: TaskListQuery): string {
  // `window` follows from limit and offset; leaving it out keeps list ETags what they were.
  const { userId: _, window: __, ...values } = listValues("", query);
  return `${listShapeId(listShape(query))} ${JSON.stringify(values)}`;
}

const stateQuery = preparedFor((db, _: undefined) => preparedSql(db, "user_state", sql`select ${userState} as state`));

/** The user's `generation.change_seq` alone: one primary-key read, for a list's If-None-Match. */
export async function listState(db: Database, userId: string): Promise<string> {
  const [row] = await rows<{ state: string | null }>(stateQuery(db, undefined), { userId });
  return row?.state ?? "";
}

/** A task and its version (the user's change number at its last write), which its ETag names. */
interface VersionedTask {
  task: Task;
  version: number;
}

type VersionedRow = TaskRow & { version: number };
const versioned = (row: VersionedRow): VersionedTask => ({ task: taskOf(row), version: row.version });

// float8: both drivers read it as a number (bigint comes back as text from one and BigInt from the other).
const withVersion = { ...taskColumns, version: sql<number>`${tasks.version}::float8`.as("version") };

const taskById = preparedFor((db, _: undefined) =>
  db.select(withVersion).from(tasks).where(ownedTask).prepare("get_task"),
);

export async function getTask(db: Database, userId: string, id: string): Promise<VersionedTask> {
  const [row] = await rows<VersionedRow>(taskById(db, undefined), { id: checkedId(id), userId });
  return row ? versioned(row) : refused(db, userId, id);
}

/**
 * What If-Match allows a write to overwrite: undefined for any version (no If-Match, or `*`, which
 * a task that exists always matches), else the versions it lists.
 */
export type Expected = readonly number[] | undefined;

// The versions travel as one text parameter ("3,7"): an array parameter is encoded differently by
// the two drivers.
const versionExpected = sql`${tasks.version} = any(string_to_array(${placeholder("expected")}::text, ',')::bigint[])`;
const target = (conditional: boolean) => and(ownedTask, conditional ? versionExpected : undefined);
const expectedValue = (expected: Expected) => expected?.join(",");

// The user's clock: strictly later than the user's previous write even within one millisecond, so
// a client comparing updated_at always sees that a write happened, and updated_at order is
// version order.
const tick = sql`change_seq = ${users.changeSeq} + 1,
  changed_at = greatest(now(), ${users.changedAt} + interval '1 millisecond')`;

/** A write's completed and priority, as SQL over the task's row before it; none for a delete. */
interface Outcome {
  completed: SQL | typeof tasks.completed;
  priority: SQL | typeof tasks.priority;
}
const given = (name: string, type: "boolean" | "text") => sql`${placeholder(name)}::${sql.raw(type)}`;

/**
 * The user's next change number `n` and time `at`, taken under the user's row lock (held until
 * commit: see feed.ts), and only when the write will find its task, so a 404, 403 or 412 leaves
 * the counter alone. The task moves between the user's counts in the same UPDATE. Its bucket
 * before the write is read FOR NO KEY UPDATE (`old`, joined before the user's row is locked): the
 * newest row whatever the statement's snapshot (counts.ts). So every write locks its task, then its
 * user's row; a keyed write's earlier turn is an advisory lock, not that row
 * (idempotency/service.ts), so no two writes wait on each other in a circle.
 */
const nextNumber = (conditional: boolean, outcome: Outcome | undefined) =>
  sql`with old as (select ${bucket(tasks.completed, tasks.priority)} as left_bucket,
        ${outcome ? bucket(outcome.completed, outcome.priority) : sql`null::int`} as entered_bucket
      from ${tasks} where ${target(conditional)} for no key update)
    update ${users} set ${tick},
      ${moved(sql`old.left_bucket`, outcome ? sql`old.entered_bucket` : undefined)}
    from old where ${users.id} = ${placeholder("userId")}
    returning change_seq as n, changed_at as at`;
const numbered = (db: Database, body: SQL) => db.$with("seq", { n: sql<number>`n` }).as(body);

/** Each field's column set to the placeholder named for the field. */
const byColumn = (fields: readonly WritableField[]) =>
  Object.fromEntries(fields.map((name) => [taskFields[name].column, raw(name)])) as Partial<
    Record<keyof typeof tasks.$inferInsert, SQL>
  >;

// Every writable column is written, so one statement serves every body; absent fields get their
// defaults. The user's number is taken by an upsert, so a user row deleted outside the service
// while its id is in the registry's cache is made again, with the token's email and name,
// instead of failing the foreign key (src/auth/users.ts).
const insertTask = preparedFor((db, _: undefined) => {
  // The new user's counts hold the task; an existing user's take it into its bucket.
  const seq = numbered(
    db,
    sql`insert into ${users} (id, email, name, change_seq, task_counts)
        values (${placeholder("userId")}, ${placeholder("email")}, ${placeholder("name")}, 1, ${placeholder("counts")}::int[])
        on conflict (id) do update set ${tick}, ${moved(undefined, sql`${placeholder("bucket")}::int`)}
        returning change_seq as n, changed_at as at`,
  );
  return db
    .with(seq)
    .insert(tasks)
    .values({
      userId: placeholder("userId"),
      ...byColumn(writableFields),
      version: sql`(select n from seq)`,
      createdAt: sql`(select at from seq)`,
      updatedAt: sql`(select at from seq)`,
    } as PgInsertValue<typeof tasks>)
    .returning(withVersion)
    .prepare("insert_task");
});

export async function createTask(db: Database, owner: UserIdentity, input: TaskCreate): Promise<VersionedTask> {
  const stored = createValues(input);
  const entered = newTaskBucket(stored.completed as boolean, stored.priority as string | null);
  const values = { ...stored, ...entered, userId: owner.id, email: owner.email, name: owner.name };
  const [row] = await rows<VersionedRow>(insertTask(db, undefined), values);
  return versioned(row!);
}

interface UpdateShape {
  fields: readonly WritableField[];
  conditional: boolean;
}

// One statement per set of fields written (at most 2^5), so a field not given is never touched.
const updateFields = preparedFor(
  (db, { fields, conditional }: UpdateShape) => {
    const seq = numbered(
      db,
      nextNumber(conditional, {
        completed: fields.includes("completed") ? given("completed", "boolean") : tasks.completed,
        priority: fields.includes("priority") ? given("priority", "text") : tasks.priority,
      }),
    );
    return db
      .with(seq)
      .update(tasks)
      .set({ ...byColumn(fields), updatedAt: sql`seq.at`, version: sql`seq.n` })
      .from(seq)
      .where(target(conditional))
      .returning(withVersion)
      .prepare("update_task");
  },
  ({ fields, conditional }) => `${fields.join(" ")} ${conditional}`,
);

/**
 * Writes only the fields given, so concurrent updates of different fields all survive. With
 * `expected`, only over one of those versions, checked by the statement that writes.
 */
export async function updateTask(
  db: Database,
  userId: string,
  id: string,
  changes: TaskUpdate,
  expected?: Expected,
): Promise<VersionedTask> {
  checkedId(id);
  const values = storedValues(changes);
  const fields = writableFields.filter((name) => name in values);
  if (fields.length === 0) {
    const current = await getTask(db, userId, id);
    if (expected && !expected.includes(current.version)) throw new TaskChangedError(current.version);
    return current;
  }
  const [row] = await rows<VersionedRow>(updateFields(db, { fields, conditional: expected !== undefined }), {
    ...values,
    id,
    userId,
    expected: expectedValue(expected),
  });
  return row ? versioned(row) : refused(db, userId, id);
}

const setCompleted = preparedFor(
  (db, { toggle, conditional }: { toggle: boolean; conditional: boolean }) => {
    const completed = toggle ? sql`not ${tasks.completed}` : given("completed", "boolean");
    const seq = numbered(db, nextNumber(conditional, { completed, priority: tasks.priority }));
    return db
      .with(seq)
      .update(tasks)
      .set({
        completed: toggle ? sql`not ${tasks.completed}` : sql`${placeholder("completed")}`,
        updatedAt: sql`seq.at`,
        version: sql`seq.n`,
      })
      .from(seq)
      .where(target(conditional))
      .returning(withVersion)
      .prepare("complete_task");
  },
  ({ toggle, conditional }) => `${toggle} ${conditional}`,
);

/** Sets `completed`, or flips it when no value is given, in one atomic UPDATE. */
export async function completeTask(
  db: Database,
  userId: string,
  id: string,
  completed?: boolean,
  expected?: Expected,
): Promise<VersionedTask> {
  const shape = { toggle: completed === undefined, conditional: expected !== undefined };
  const [row] = await rows<VersionedRow>(setCompleted(db, shape), {
    id: checkedId(id),
    userId,
    completed,
    expected: expectedValue(expected),
  });
  return row ? versioned(row) : refused(db, userId, id);
}

// The task goes and its tombstone (for the change feed) comes in one statement, under the number.
const deleteById = preparedFor(
  (db, conditional: boolean) =>
    preparedSql(
      db,
      "delete_task",
      sql`with seq as (${nextNumber(conditional, undefined)}),
        gone as (delete from ${tasks} using seq where ${target(conditional)} returning ${tasks.id} as id, seq.n)
        insert into ${taskTombstones} (user_id, task_id, seq)
        select ${placeholder("userId")}, id, n from gone returning task_id`,
    ),
  String,
);

export async function deleteTask(db: Database, userId: string, id: string, expected?: Expected): Promise<void> {
  const [row] = await rows(deleteById(db, expected !== undefined), {
    id: checkedId(id),
    userId,
    expected: expectedValue(expected),
  });
  if (!row) await refused(db, userId, id);
}

class TaskChangedError extends HttpError {
  constructor(version: number) {
    super(412, "Task has changed since it was read", { etag: taskEtag(version) });
  }
}

/**
 * Runs only after a statement scoped to the caller found nothing, so the happy path pays no extra
 * round trip: the task is missing (404), another user's (403), or its version is not the one
 * expected (412, with its current ETag).
 */
async function refused(db: Database, userId: string, id: string): Promise<never> {
  const [other] = await db
    .select({ userId: tasks.userId, version: sql<number>`${tasks.version}::float8` })
    .from(tasks)
    .where(eq(tasks.id, id))
    .limit(1);
  if (!other) throw new TaskNotFoundError();
  if (other.userId !== userId) throw new TaskForbiddenError();
  throw new TaskChangedError(other.version);
}
