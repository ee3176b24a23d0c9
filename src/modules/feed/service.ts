// The change feed: what changed in a user's tasks after a cursor, safe under concurrent commits.
//
// Why per-user numbers taken under the user's row lock (docs/sync.md has the whole argument):
// every write of a task takes the next number from `users.change_seq` in the same statement that
// writes the task (tasks/service.ts), and that UPDATE holds the user's row lock until the transaction
// ends. So two writes of one user commit in number order, and a reader that sees number N has seen
// every number below it. A global sequence or timestamps do not give that: number 7 may commit after
// a reader has seen 8 and moved past it. The feed reads tasks and tombstones after the cursor, and
// the user's change_seq, in ONE statement (one snapshot); the last page's cursor is that change_seq.
// The cost is one more row written per task write, the user's own (measured in bench/README.md).
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { inBatches, type Job } from "../../db/housekeeping.ts";
import { preparedFor, preparedSql, rows } from "../../db/prepared.ts";
import { tasks, taskTombstones, users } from "../../db/schema.ts";
import { HttpError } from "../../http/errors.ts";
import { type TaskRow, taskOf, taskSelection } from "../tasks/fields.ts";
import type { Task } from "../tasks/model.ts";

export type Change = { cursor: string } & ({ task: Task } | { deleted: string });
export interface ChangePage {
  changes: Change[];
  cursor: string;
  hasMore: boolean;
}

/** Deletions are kept at least this long; a cursor older than what is kept is 410. */
const TOMBSTONE_DAYS = 30;

class InvalidCursorError extends HttpError {
  constructor() {
    super(400, "Invalid cursor");
  }
}

class ExpiredCursorError extends HttpError {
  constructor() {
    super(410, "Cursor has expired; sync again without since");
  }
}

/**
 * Where a reader is: tasks with a version above `tasksAfter` and deletions numbered above
 * `deletionsAfter` are still to come. The two differ only during a first sync: its pages list the
 * tasks current at the first page, so deletions before that page (up to the change_seq it read)
 * concern no task the reader has, and pruning them must not expire its cursor.
 */
interface Position {
  generation: number;
  tasksAfter: number;
  deletionsAfter: number;
}

// Opaque to clients, but names the user (a short hash of the id, so a cursor of another user is
// refused, not read against this user's numbers) and the user row's generation.
const userTag = (userId: string) => createHash("sha256").update(userId).digest("base64url").slice(0, 12);
const CURSOR = /^(\d{1,15})\.(\d{1,15})\.(\d{1,15})\.([\w-]{12})$/;

function encodeCursor(userId: string, { generation, tasksAfter, deletionsAfter }: Position): string {
  return Buffer.from(`${generation}.${tasksAfter}.${deletionsAfter}.${userTag(userId)}`).toString("base64url");
}

/** The position in a cursor this service issued to this user; 400 for anything else. */
function decodeCursor(userId: string, cursor: string): Position {
  const text = Buffer.from(cursor, "base64url").toString("latin1");
  const match = CURSOR.exec(text);
  // Buffer.from skips characters that are not base64url: only the exact encoding is ours.
  if (!match || Buffer.from(text, "latin1").toString("base64url") !== cursor || match[4] !== userTag(userId))
    throw new InvalidCursorError();
  return { generation: Number(match[1]), tasksAfter: Number(match[2]), deletionsAfter: Number(match[3]) };
}

const placeholder = sql.placeholder;

type FeedRow = TaskRow & {
  generation: number | null;
  head: number | null;
  pruned: number | null;
  /** The change's number: a task's version or a tombstone's seq; null when the page is empty. */
  n: number | null;
  deleted: string | null;
};

// One statement, so the user's numbers and the page come from one snapshot. Each arm stops after
// `take` rows in number order (an index range scan each); the union is cut to `take` again. Tasks
// are joined back by id to read their columns once for the rows on the page only.
const feedQuery = preparedFor((db, _: undefined) =>
  preparedSql(
    db,
    "task_changes",
    sql`
    with owner as (
      select ${users.generation}::float8 as generation, ${users.changeSeq}::float8 as head,
        ${users.prunedSeq}::float8 as pruned
      from ${users} where ${users.id} = ${placeholder("userId")}
    ),
    page as (
      (select ${tasks.version} as n, ${tasks.id} as item, false as gone from ${tasks}
        where ${tasks.userId} = ${placeholder("userId")} and ${tasks.version} > ${placeholder("tasksAfter")}
        order by ${tasks.version} limit ${placeholder("take")})
      union all
      (select ${taskTombstones.seq}, ${taskTombstones.taskId}, true from ${taskTombstones}
        where ${placeholder("withDeleted")}::boolean and ${taskTombstones.userId} = ${placeholder("userId")}
          and ${taskTombstones.seq} > ${placeholder("deletionsAfter")}
        order by ${taskTombstones.seq} limit ${placeholder("take")})
      order by n limit ${placeholder("take")}
    )
    select owner.*, page.n::float8 as n, case when page.gone then page.item end as deleted, ${taskSelection}
    from owner
      left join page on true
      left join ${tasks} on not page.gone and ${tasks.id} = page.item
    order by page.n`,
  ),
);

/** since undefined: the user's current tasks (no deletions). Throws HttpError 400/410 for a bad/expired cursor. */
export async function readChanges(
  db: Database,
  userId: string,
  since: string | undefined,
  limit: number,
): Promise<ChangePage> {
  const from = since === undefined ? undefined : decodeCursor(userId, since);
  const found = await rows<FeedRow>(feedQuery(db, undefined), {
    userId,
    tasksAfter: from?.tasksAfter ?? -1,
    deletionsAfter: from?.deletionsAfter ?? 0,
    withDeleted: from !== undefined,
    take: limit + 1,
  });
  const owner = found[0];
  // No user row: its history is gone (the registry makes the row again on the next request).
  if (!owner || owner.generation === null || owner.head === null || owner.pruned === null) {
    if (from) throw new ExpiredCursorError();
    return {
      changes: [],
      cursor: encodeCursor(userId, { generation: 0, tasksAfter: 0, deletionsAfter: 0 }),
      hasMore: false,
    };
  }
  const { generation, head, pruned } = owner;
  if (from) {
    // The user was deleted and made again since this cursor: its numbers started over.
    if (from.generation !== generation) throw new ExpiredCursorError();
    if (from.tasksAfter > head || from.deletionsAfter > head) throw new InvalidCursorError();
    if (from.deletionsAfter < pruned) throw new ExpiredCursorError();
  }
  const deletionsAfter = from?.deletionsAfter ?? head;
  const at = (n: number) =>
    encodeCursor(userId, { generation, tasksAfter: n, deletionsAfter: Math.max(deletionsAfter, n) });
  const items = found.filter((row) => row.n !== null);
  const hasMore = items.length > limit;
  const changes = items.slice(0, limit).map((row): Change => {
    const cursor = at(row.n!);
    return row.deleted === null ? { cursor, task: taskOf(row) } : { cursor, deleted: row.deleted };
  });
  return { changes, cursor: hasMore ? changes[changes.length - 1]!.cursor : at(head), hasMore };
}

const headQuery = preparedFor((db, _: undefined) =>
  db
    .select({
      generation: sql<number>`${users.generation}::float8`.as("generation"),
      head: sql<number>`${users.changeSeq}::float8`.as("head"),
    })
    .from(users)
    .where(sql`${users.id} = ${placeholder("userId")}`)
    .prepare("user_head"),
);

/** The cursor of the user's latest change (for a stream that starts "from now"). */
export async function currentCursor(db: Database, userId: string): Promise<string> {
  const [owner] = await rows<{ generation: number; head: number }>(headQuery(db, undefined), { userId });
  const { generation = 0, head = 0 } = owner ?? {};
  return encodeCursor(userId, { generation, tasksAfter: head, deletionsAfter: head });
}

const pruneQuery = preparedFor((db, _: undefined) =>
  preparedSql(
    db,
    "prune_tombstones",
    sql`
    with doomed as (
      select ${taskTombstones.userId} as user_id, ${taskTombstones.seq} as seq from ${taskTombstones}
      where ${taskTombstones.deletedAt} < now() - make_interval(days => ${placeholder("days")}::int)
      order by ${taskTombstones.deletedAt} limit ${placeholder("batch")}
      for update skip locked
    ),
    gone as (
      delete from ${taskTombstones} using doomed
      where ${taskTombstones.userId} = doomed.user_id and ${taskTombstones.seq} = doomed.seq
      returning doomed.user_id, doomed.seq
    ),
    raised as (
      update ${users} set pruned_seq = greatest(pruned_seq, top.seq)
      from (select user_id, max(seq) as seq from gone group by user_id) as top
      where ${users.id} = top.user_id
    )
    select count(*)::int as pruned from gone`,
  ),
);

/**
 * Deletes up to `batch` tombstones older than TOMBSTONE_DAYS and raises their users' pruned_seq in
 * the same statement, so a cursor is refused (410) exactly when a deletion after it is gone.
 */
export async function pruneTombstones(db: Database, batch: number, days = TOMBSTONE_DAYS): Promise<number> {
  const [result] = await rows<{ pruned: number }>(pruneQuery(db, undefined), { batch, days });
  return result!.pruned;
}

/** Tombstones past 30 days pruned every 10 minutes, in batches, by the app's housekeeping. */
export const pruneTombstonesJob = (db: Database): Job => ({
  name: "pruning tombstones",
  everyMs: 10 * 60_000,
  run: () => inBatches((batch) => pruneTombstones(db, batch)),
});
