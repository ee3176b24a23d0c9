"use client";
import type { FormEvent } from "react";
import { DESCRIPTION_MAX, TITLE_MAX } from "todo-api/src/rules.ts";
import type { Task, TaskChanges } from "../lib/api.ts";
import { PrioritySelect } from "./priority-select.tsx";

/** The due date as a date field shows it: its UTC day, as the API stores a plain date. */
function dateOf(task: Task) {
  return task.due_date?.slice(0, 10) ?? "";
}

/**
 * Edits one task of the local copy. Saving hands the changed fields to the outbox, which sends
 * them with the If-Match of the version this editor opened on: an edit made meanwhile on another
 * device is never silently overwritten (the board shows the conflict instead).
 */
export function TaskEditor({
  task,
  onSave,
  onCancel,
}: {
  task: Task;
  onSave: (changes: NonNullable<TaskChanges>) => void;
  onCancel: () => void;
}) {
  function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (field: string) => String(form.get(field));
    // Only the fields the user changed are sent: a due time the date field cannot show is kept.
    const changes: NonNullable<TaskChanges> = {};
    if (text("title") !== task.title) changes.title = text("title");
    if (text("description") !== (task.description ?? "")) changes.description = text("description") || null;
    if (text("priority") !== (task.priority ?? "")) changes.priority = (text("priority") || null) as Task["priority"];
    if (text("due_date") !== dateOf(task)) changes.due_date = text("due_date") || null;
    onSave(changes);
  }

  return (
    <form
      onSubmit={save}
      onKeyDown={(event) => {
        if (event.key === "Escape") onCancel();
      }}
      className="stack editor"
      aria-label={`Edit ${task.title}`}
    >
      <label>
        Title
        {/* biome-ignore lint/a11y/noAutofocus: the form appears because the person asked for it; Escape takes focus back */}
        <input name="title" required maxLength={TITLE_MAX} defaultValue={task.title} autoFocus />
      </label>
      <label>
        Description
        <textarea name="description" maxLength={DESCRIPTION_MAX} defaultValue={task.description ?? ""} />
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
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
