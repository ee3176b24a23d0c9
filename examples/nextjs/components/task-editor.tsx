"use client";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { detailOf, type Task, type TaskChanges } from "../lib/api.ts";
import { useApi } from "./api-provider.tsx";
import { PrioritySelect } from "./priority-select.tsx";

/** The due date as a date field shows it: its UTC day, as the API stores a plain date. */
function dateOf(task: Task) {
  return task.due_date?.slice(0, 10) ?? "";
}

interface Version {
  task: Task;
  /** The task's ETag when it was read: the save is refused (412) if it changed since. */
  etag: string | null;
}

/**
 * Edits one task. It reads the task first and saves with If-Match, so an edit made meanwhile on
 * another device is never silently overwritten: on 412 the current version is shown instead.
 */
export function TaskEditor({ id, onDone }: { id: string; onDone: () => void }) {
  const { api } = useApi();
  const [version, setVersion] = useState<Version>();
  const [problem, setProblem] = useState<string>();

  const read = useCallback(async (): Promise<Version | undefined> => {
    const { data, error, response } = await api.api.tasks({ id }).get();
    if (error) {
      setProblem(detailOf(error));
      return undefined;
    }
    return { task: data, etag: response.headers.get("etag") };
  }, [api, id]);

  useEffect(() => {
    read().then(setVersion);
  }, [read]);

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!version) return;
    const form = new FormData(event.currentTarget);
    const text = (field: string) => String(form.get(field));
    const { task } = version;
    // Only the fields the user changed are sent: a due time the date field cannot show is kept.
    const changes: TaskChanges = {};
    if (text("title") !== task.title) changes.title = text("title");
    if (text("description") !== (task.description ?? "")) changes.description = text("description") || null;
    if (text("priority") !== (task.priority ?? "")) changes.priority = (text("priority") || null) as Task["priority"];
    if (text("due_date") !== dateOf(task)) changes.due_date = text("due_date") || null;
    const result = await api.api
      .tasks({ id })
      .patch(changes, { headers: version.etag ? { "if-match": version.etag } : {} });
    if (result.status === 412) {
      const current = await read();
      if (current) setVersion(current);
      return setProblem(
        "This task was changed on another device while you edited it. Its current version is shown below; make your change again and save.",
      );
    }
    if (result.error) return setProblem(detailOf(result.error));
    onDone();
  }

  if (!version) return problem ? <p role="alert">{problem}</p> : <p>Loading…</p>;
  const { task } = version;
  return (
    // A new version (after a 412) remounts the form, so its fields show the current values.
    <form
      key={`${task.updated_at}`}
      onSubmit={save}
      onKeyDown={(event) => {
        if (event.key === "Escape") onDone();
      }}
      className="stack editor"
      aria-label={`Edit ${task.title}`}
    >
      {problem && <p role="alert">{problem}</p>}
      <label>
        Title
        {/* Focus follows the person into the form they opened (Escape takes it back). */}
        {/* biome-ignore lint/a11y/noAutofocus: the form appears because the person asked for it */}
        <input name="title" required maxLength={200} defaultValue={task.title} autoFocus />
      </label>
      <label>
        Description
        <textarea name="description" maxLength={1000} defaultValue={task.description ?? ""} />
      </label>
      <div className="field">
        <span aria-hidden>Priority</span>
        <PrioritySelect name="priority" label="Priority" value={task.priority} />
      </div>
      <label>
        Due date
        <input name="due_date" type="date" defaultValue={dateOf(task)} />
      </label>
      <div className="row">
        <button type="submit" className="primary">
          Save
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
