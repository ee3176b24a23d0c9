-- Live events (src/db/notifications.ts, src/modules/events/): every committed change to a user's
-- tasks wakes the service processes that LISTEN on task_changes. The payload is only the user id;
-- a process with open streams for that user reads what changed from the change feed. PostgreSQL
-- delivers a notification at commit (never for a rollback) and sends one per distinct payload per
-- transaction, so a statement touching many of one user's rows still sends one.
CREATE FUNCTION "notify_task_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('task_changes', coalesce(NEW."user_id", OLD."user_id"));
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "tasks_notify_change" AFTER INSERT OR UPDATE OR DELETE ON "tasks"
FOR EACH ROW EXECUTE FUNCTION "notify_task_change"();
