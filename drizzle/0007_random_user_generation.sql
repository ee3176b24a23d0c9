ALTER TABLE "users" ALTER COLUMN "generation" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "generation" SET DEFAULT (floor(random() * 999999999999999) + 1)::bigint;