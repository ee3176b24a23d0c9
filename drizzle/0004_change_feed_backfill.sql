-- Tasks written before the change feed existed get versions 1..n per user, in the order they last
-- changed (ties as the list breaks them), so version order is updated_at order as for new writes.
-- Each user's change_seq starts after the last of them, and the user's clock (changed_at) after
-- the latest updated_at, so every existing task is in the feed and later writes sort after it.
UPDATE "tasks" SET "version" = numbered.n
FROM (
	SELECT "id", row_number() OVER (PARTITION BY "user_id" ORDER BY "updated_at", "created_at", "id") AS n
	FROM "tasks"
) AS numbered
WHERE "tasks"."id" = numbered."id";
--> statement-breakpoint
UPDATE "users" SET "change_seq" = latest.n, "changed_at" = greatest("users"."changed_at", latest.at)
FROM (SELECT "user_id", count(*) AS n, max("updated_at") AS at FROM "tasks" GROUP BY "user_id") AS latest
WHERE "users"."id" = latest."user_id";
