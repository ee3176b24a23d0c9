-- Tasks written before the change feed existed get versions 1..n per user, in the order they last
-- changed (ties as the list breaks them), and each user's change_seq starts after the last of them,
-- so every existing task is in the feed and every number is used once per user.
UPDATE "tasks" SET "version" = numbered.n
FROM (
	SELECT "id", row_number() OVER (PARTITION BY "user_id" ORDER BY "updated_at", "created_at", "id") AS n
	FROM "tasks"
) AS numbered
WHERE "tasks"."id" = numbered."id";
--> statement-breakpoint
UPDATE "users" SET "change_seq" = counts.n
FROM (SELECT "user_id", count(*) AS n FROM "tasks" GROUP BY "user_id") AS counts
WHERE "users"."id" = counts."user_id";
