DROP INDEX "tasks_user_status_created_idx";--> statement-breakpoint
DROP INDEX "tasks_user_status_updated_idx";--> statement-breakpoint
DROP INDEX "tasks_user_status_due_idx";--> statement-breakpoint
DROP INDEX "tasks_user_status_title_idx";--> statement-breakpoint
DROP INDEX "tasks_user_status_priority_idx";--> statement-breakpoint
CREATE INDEX "tasks_user_created_idx" ON "tasks" USING btree ("user_id","created_at","id","completed","priority");--> statement-breakpoint
CREATE INDEX "tasks_user_updated_idx" ON "tasks" USING btree ("user_id","updated_at","created_at","id","completed","priority");--> statement-breakpoint
CREATE INDEX "tasks_user_title_idx" ON "tasks" USING btree ("user_id",lower("title"),"created_at","id","completed","priority");--> statement-breakpoint
CREATE INDEX "tasks_user_due_idx" ON "tasks" USING btree ("user_id","due_date","created_at","id","completed","priority");--> statement-breakpoint
CREATE INDEX "tasks_user_priority_idx" ON "tasks" USING btree ("user_id",(case "priority" when 'high' then 3 when 'medium' then 2 when 'low' then 1 end) desc nulls last,"created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST,"completed","priority");