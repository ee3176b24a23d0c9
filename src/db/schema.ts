// The tables of ../shared/api.md. Constraints live in the database too, so a bug in the
// HTTP layer can never store a task the contract forbids.
import { sql } from "drizzle-orm";
import { boolean, check, index, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

// withTimezone: drizzle's bun-sql driver shifts and truncates plain `timestamp` values
// (drizzle-orm #4311, #5062); `timestamptz` round-trips on both drivers (test/db.test.ts).
const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date", precision: 3 });

export const users = pgTable("users", {
  id: text("id").primaryKey(),
  email: text("email"),
  name: text("name"),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
});

export const priorities = ["low", "medium", "high"] as const;
export type Priority = (typeof priorities)[number];

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
    priority: text("priority", { enum: priorities }),
    dueDate: timestamptz("due_date"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    check("tasks_title_length", sql`char_length(${t.title}) between 1 and 200 and ${t.title} = btrim(${t.title})`),
    check("tasks_description_length", sql`char_length(${t.description}) <= 1000`),
    check("tasks_priority_value", sql`${t.priority} in ('low', 'medium', 'high')`),
    // One index per list sort, in the list's exact order (key, then the created_at, id tie-break),
    // so a page is an index scan that stops after `limit` rows, for every status: the default
    // status=all could not use an index led by (user_id, completed). The trailing completed and
    // priority let the status/priority filters, and the page's count(*), be answered inside the
    // index. The sorts' other directions for nullable keys (due_date desc, priority asc, both
    // nulls last) fall back to sorting the user's rows. test/tasks-explain.test.ts holds the plans.
    index("tasks_user_created_idx").on(t.userId, t.createdAt, t.id, t.completed, t.priority),
    index("tasks_user_updated_idx").on(t.userId, t.updatedAt, t.createdAt, t.id, t.completed, t.priority),
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

// The answers kept for Idempotency-Key retries (src/modules/idempotency/). A row is in flight while
// `status` is null; `expires_at` is then its lease, and once answered the end of its 24 hours.
// Either way a row past `expires_at` counts as absent, and the pruner deletes it.
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    /** sha-256 (hex) of the method, path and body of the request that used the key first. */
    fingerprint: text("fingerprint").notNull(),
    /** Made by the request carrying the key out, so only it stores or releases the row. */
    claim: uuid("claim").notNull(),
    status: integer("status"),
    body: text("body"),
    location: text("location"),
    etag: text("etag"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    expiresAt: timestamptz("expires_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.key] }),
    check("idempotency_keys_key_format", sql`${t.key} ~ '^[ -~]{1,255}$'`),
    index("idempotency_keys_expires_idx").on(t.expiresAt),
  ],
);
