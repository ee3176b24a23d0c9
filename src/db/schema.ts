// The tables of docs/api.md. Constraints live in the database too, so a bug in the
// HTTP layer can never store a task the contract forbids.
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { DESCRIPTION_MAX, IDEMPOTENCY_KEY_MAX, PRIORITIES, TITLE_MAX } from "../rules.ts";

/** Buckets of a user's task counts: not completed or completed, times each priority or none. */
export const TASK_BUCKETS = 2 * (PRIORITIES.length + 1);

// withTimezone: drizzle's bun-sql driver shifts and truncates plain `timestamp` values
// (drizzle-orm #4311, #5062); `timestamptz` round-trips on both drivers (test/db.test.ts).
const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date", precision: 3 });

export const users = pgTable("users", {
  id: text("id").primaryKey(),
  email: text("email"),
  name: text("name"),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  // The change feed's clock (src/modules/feed/service.ts, docs/sync.md): every write of one of the
  // user's tasks takes the next number, under this row's lock, in the statement that writes.
  changeSeq: bigint("change_seq", { mode: "number" }).notNull().default(0),
  // This row's life: a user deleted and made again restarts change_seq at 0, and a cursor of the
  // earlier life must not be read against the new numbers. Random (1 to 10^15 - 1, what a cursor
  // holds), not a sequence: cursors and list ETags carry it, and a sequence shared by all users
  // told anyone who signs up now and then how many users had been written meanwhile. Two lives of
  // one user drawing the same number: one chance in 10^15.
  generation: bigint("generation", { mode: "number" })
    .notNull()
    .default(sql`(floor(random() * 999999999999999) + 1)::bigint`),
  // The highest tombstone number pruned: a cursor before it may have missed a deletion (410).
  prunedSeq: bigint("pruned_seq", { mode: "number" }).notNull().default(0),
  // The user's clock: each write moves it to greatest(now(), changed_at + 1 ms) with change_seq and
  // stamps the task's updated_at with it, so updated_at order is version order (see tasks' indexes).
  changedAt: timestamptz("changed_at").notNull().defaultNow(),
  // How many of the user's tasks lie in each bucket of completed × priority (src/modules/tasks/counts.ts),
  // moved by every write of a task, so a list's X-Total-Count is read here, not counted.
  taskCounts: integer("task_counts")
    .array()
    .notNull()
    .default(sql.raw(`'{${Array(TASK_BUCKETS).fill(0).join(",")}}'`)),
});

// High first when sorting "desc"; tasks without a priority sort last either way.
export const priorityRank = sql<
  number | null
>`(case "priority" when 'high' then 3 when 'medium' then 2 when 'low' then 1 end)`;

export const tasks = pgTable(
  "tasks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    description: text("description"),
    completed: boolean("completed").notNull().default(false),
    priority: text("priority", { enum: PRIORITIES }),
    dueDate: timestamptz("due_date"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
    // The user's change_seq at this task's last write: its ETag and its place in the change feed.
    // The default only covers rows written around the service (a seed); the service always sets it.
    version: bigint("version", { mode: "number" }).notNull().default(0),
  },
  (t) => [
    // The rules as literals in the constraint's text (sql.raw): a parameter has no place in DDL.
    check(
      "tasks_title_length",
      sql`char_length(${t.title}) between 1 and ${sql.raw(String(TITLE_MAX))} and ${t.title} = btrim(${t.title})`,
    ),
    check("tasks_description_length", sql`char_length(${t.description}) <= ${sql.raw(String(DESCRIPTION_MAX))}`),
    check("tasks_priority_value", sql`${t.priority} in (${sql.raw(PRIORITIES.map((p) => `'${p}'`).join(", "))})`),
    // One index per list sort (updated shares the feed's, below), in the list's exact order (key,
    // then the created_at, id tie-break), so a page is an index scan that stops after `limit` rows,
    // for every status: the default
    // status=all could not use an index led by (user_id, completed). The trailing completed and
    // priority let the status/priority filters, and the page's count(*), be answered inside the
    // index. The sorts' other directions for nullable keys (due_date desc, priority asc, both
    // nulls last) fall back to sorting the user's rows. test/tasks-explain.test.ts holds the plans.
    index("tasks_user_created_idx").on(t.userId, t.createdAt, t.id, t.completed, t.priority),
    // The change feed reads a user's tasks after a number in number order, and sort=updated is the
    // same order: updated_at comes from the user's clock under the same row lock as the number, so
    // it rises with version. One index for both, not two: every write inserts an entry into each
    // index (updated_at changes, so no update is HOT), and index entries were half of a write's
    // WAL records (bench/README.md).
    index("tasks_user_version_idx").on(t.userId, t.version, t.createdAt, t.id, t.completed, t.priority),
    index("tasks_user_title_idx").on(t.userId, sql`lower(${t.title})`, t.createdAt, t.id, t.completed, t.priority),
    index("tasks_user_due_idx").on(t.userId, t.dueDate, t.createdAt, t.id, t.completed, t.priority),
    index("tasks_user_priority_idx").on(
      t.userId,
      sql`${priorityRank} desc nulls last`,
      // The ORDER BY's plain `desc` means nulls first; the index must say the same to serve it.
      t.createdAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
      t.completed,
      t.priority,
    ),
  ],
);

// The text of each task again, for `q`: a trigram index (pg_trgm, with btree_gin for the user) finds
// the tasks whose title or description contains a text, so a search reads the matches, not all of
// a user's tasks. It is a table of its own, written by triggers on tasks (migration 0011) only when
// a task is created, deleted or its text changes: the same index on tasks took new entries at every
// toggle, since no update there is HOT (bench/notes/2026-12-06.md, F). No foreign key: its check
// would lock the new task's row at every create; the delete trigger does what a cascade would.
export const taskTexts = pgTable(
  "task_texts",
  {
    taskId: uuid("task_id").primaryKey(),
    userId: text("user_id").notNull(),
    title: text("title").notNull(),
    description: text("description"),
  },
  (t) => [
    index("task_texts_search_idx").using("gin", t.userId, t.title.op("gin_trgm_ops"), t.description.op("gin_trgm_ops")),
  ],
);

// A deleted task, kept so a device that syncs later learns of the deletion (at least 30 days).
export const taskTombstones = pgTable(
  "task_tombstones",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    taskId: uuid("task_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    deletedAt: timestamptz("deleted_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.seq] }), index("task_tombstones_deleted_at_idx").on(t.deletedAt)],
);

// The answers kept for Idempotency-Key retries (src/modules/idempotency/), each written in the
// transaction of the write it answers. A row past `expires_at` (24 hours) counts as absent, and the
// pruner deletes it.
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    /** sha-256 (hex) of the method, path and body of the request that used the key first. */
    fingerprint: text("fingerprint").notNull(),
    status: integer("status").notNull(),
    /** The response body as sent; "" for none. */
    body: text("body").notNull(),
    location: text("location"),
    etag: text("etag"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    expiresAt: timestamptz("expires_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.key] }),
    check("idempotency_keys_key_format", sql`${t.key} ~ ${sql.raw(`'^[ -~]{1,${IDEMPOTENCY_KEY_MAX}}$'`)}`),
    index("idempotency_keys_expires_idx").on(t.expiresAt),
  ],
);
