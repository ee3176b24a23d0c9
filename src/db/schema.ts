// The tables of ../shared/api.md. Constraints live in the database too, so a bug in the
// HTTP layer can never store a task the contract forbids.
import { sql } from "drizzle-orm";
import { boolean, check, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

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
export const priorityRank = sql<number | null>`(case "priority" when 'high' then 3 when 'medium' then 2 when 'low' then 1 end)`;

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
    // One index per list sort key, led by (user_id, completed) so the status filter and the
    // ORDER BY ... LIMIT of a page are both served by the index.
    index("tasks_user_status_created_idx").on(t.userId, t.completed, t.createdAt, t.id),
    index("tasks_user_status_updated_idx").on(t.userId, t.completed, t.updatedAt),
    index("tasks_user_status_due_idx").on(t.userId, t.completed, t.dueDate),
    index("tasks_user_status_title_idx").on(t.userId, t.completed, sql`lower(${t.title})`),
    index("tasks_user_status_priority_idx").on(t.userId, t.completed, priorityRank),
  ],
);
