ALTER TABLE "users" ADD COLUMN "task_counts" integer[] DEFAULT '{0,0,0,0,0,0,0,0}' NOT NULL;--> statement-breakpoint
-- Each user's counts from their tasks, as the service's writes keep them from now on
-- (src/modules/tasks/counts.ts): bucket 1 + 4 * completed + the priority's place (low, medium,
-- high, none).
UPDATE "users" SET "task_counts" = (
  SELECT ARRAY[
    count(*) FILTER (WHERE NOT "completed" AND "priority" = 'low'),
    count(*) FILTER (WHERE NOT "completed" AND "priority" = 'medium'),
    count(*) FILTER (WHERE NOT "completed" AND "priority" = 'high'),
    count(*) FILTER (WHERE NOT "completed" AND "priority" IS NULL),
    count(*) FILTER (WHERE "completed" AND "priority" = 'low'),
    count(*) FILTER (WHERE "completed" AND "priority" = 'medium'),
    count(*) FILTER (WHERE "completed" AND "priority" = 'high'),
    count(*) FILTER (WHERE "completed" AND "priority" IS NULL)
  ]::integer[]
  FROM "tasks" WHERE "tasks"."user_id" = "users"."id"
);
