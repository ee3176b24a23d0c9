-- Generations drawn from the shared sequence told how many users had been written before each one;
-- every user gets a random one instead (the new default). Cursors and list ETags issued before no
-- longer match: a device's next sync with an old cursor gets 410 and syncs again without since, and
-- a list's next If-None-Match gets 200. The sequence has no use left.
UPDATE "users" SET "generation" = DEFAULT;
--> statement-breakpoint
DROP SEQUENCE IF EXISTS "users_generation_seq";
