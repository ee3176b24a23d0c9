CREATE TABLE "task_tombstones" (
	"user_id" text NOT NULL,
	"task_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"deleted_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_tombstones_user_id_seq_pk" PRIMARY KEY("user_id","seq")
);
--> statement-breakpoint
DROP INDEX "tasks_user_updated_idx";--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "change_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "generation" bigserial NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "pruned_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "changed_at" timestamp (3) with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "task_tombstones" ADD CONSTRAINT "task_tombstones_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "task_tombstones_deleted_at_idx" ON "task_tombstones" USING btree ("deleted_at");--> statement-breakpoint
CREATE INDEX "tasks_user_version_idx" ON "tasks" USING btree ("user_id","version","created_at","id","completed","priority");