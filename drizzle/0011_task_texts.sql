-- `q` by trigram index: the tasks' text in a table of its own (src/db/schema.ts says why), kept by
-- triggers so that every way a task is written, the service or a hand edit, keeps it. Both
-- extensions are trusted (PostgreSQL 13 and later): a role that may create in the database may
-- create them, no superuser needed.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS btree_gin;--> statement-breakpoint
-- Writes wait from here to commit, so none lands between the copy below and the triggers.
LOCK TABLE "tasks" IN SHARE ROW EXCLUSIVE MODE;--> statement-breakpoint
CREATE TABLE "task_texts" (
	"task_id" uuid PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text
);
--> statement-breakpoint
INSERT INTO "task_texts" ("task_id", "user_id", "title", "description")
  SELECT "id", "user_id", "title", "description" FROM "tasks";--> statement-breakpoint
CREATE INDEX "task_texts_search_idx" ON "task_texts" USING gin ("user_id","title" gin_trgm_ops,"description" gin_trgm_ops);--> statement-breakpoint
CREATE FUNCTION "task_texts_follow"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO task_texts (task_id, user_id, title, description)
      VALUES (NEW.id, NEW.user_id, NEW.title, NEW.description);
  ELSIF TG_OP = 'UPDATE' THEN
    UPDATE task_texts SET task_id = NEW.id, user_id = NEW.user_id, title = NEW.title, description = NEW.description
      WHERE task_id = OLD.id;
  ELSIF TG_OP = 'DELETE' THEN
    DELETE FROM task_texts WHERE task_id = OLD.id;
  ELSE
    TRUNCATE task_texts;
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "task_texts_insert" AFTER INSERT ON "tasks"
  FOR EACH ROW EXECUTE FUNCTION "task_texts_follow"();--> statement-breakpoint
-- Only a write that changes the text: a toggle names none of these columns and fires nothing.
CREATE TRIGGER "task_texts_update" AFTER UPDATE OF "id", "user_id", "title", "description" ON "tasks"
  FOR EACH ROW WHEN (
    OLD.id IS DISTINCT FROM NEW.id OR OLD.user_id IS DISTINCT FROM NEW.user_id
    OR OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description
  ) EXECUTE FUNCTION "task_texts_follow"();--> statement-breakpoint
CREATE TRIGGER "task_texts_delete" AFTER DELETE ON "tasks"
  FOR EACH ROW EXECUTE FUNCTION "task_texts_follow"();--> statement-breakpoint
CREATE TRIGGER "task_texts_truncate" AFTER TRUNCATE ON "tasks"
  FOR EACH STATEMENT EXECUTE FUNCTION "task_texts_follow"();--> statement-breakpoint
-- As for tasks (0009): its statistics decide whether a search uses the index, and a vacuum moves
-- the index's pending entries into it, which every search otherwise reads one by one.
ALTER TABLE "task_texts" SET (
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.02,
  autovacuum_analyze_scale_factor = 0.02
);
