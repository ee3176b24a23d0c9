"use client";
import { useRouter } from "next/navigation";
import { type FormEvent, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { DESCRIPTION_MAX, TITLE_MAX } from "todo-api/src/rules.ts";
import type { Task } from "../lib/api.ts";
import type { User } from "../lib/auth.ts";
import { authClient } from "../lib/auth-client.ts";
import { followTaskEvents } from "../lib/events.ts";
import { forgetAppShell, keepAppShell } from "../lib/offline/shell.ts";
import { type Conflict, type ShownTask, TaskSync } from "../lib/offline/sync.ts";
import { type Filters, noFilters, visibleTasks } from "../lib/offline/view.ts";
import { forgetApiToken } from "../lib/token.ts";
import { useApi } from "./api-provider.tsx";
import { PrioritySelect, priorityChoices } from "./priority-select.tsx";
import { TaskEditor } from "./task-editor.tsx";

/** The board of a signed-in user (the page sends anyone else to /sign-in before rendering it). */
export function TaskBoard({ user }: { user: User }) {
  const router = useRouter();
  const { api, url } = useApi();
  const [sync, setSync] = useState<TaskSync>();

  useEffect(() => {
    const opened = new TaskSync(user.id, api);
    setSync(opened);
    // Any change, from this tab or another device, arrives as an event: the copy catches up.
    const stop = new AbortController();
    void followTaskEvents(url, stop.signal, { onOpen: () => opened.pull(), onEvent: () => opened.pull() });
    void keepAppShell().catch(() => {});
    return () => {
      stop.abort();
      opened.close();
    };
  }, [api, url, user.id]);

  async function signOut() {
    await authClient.signOut();
    forgetApiToken();
    await forgetAppShell();
    router.replace("/sign-in");
  }

  return (
    <main className="page">
      <header className="topbar">
        <h1>Tasks</h1>
        <span className="who">
          <span className="email">{user.email}</span>
          <button type="button" className="quiet" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      {sync ? <Tasks sync={sync} /> : <p className="count">Loading…</p>}
    </main>
  );
}

/** How long a deleted task can be brought back before the delete is sent. */
const UNDO_MS = 5_000;

/** "Dec 20", or "Dec 20, 2027" outside this year: short enough for one line on a phone. */
function shortDate(iso: string) {
  const date = new Date(iso.slice(0, 10));
  const sameYear = date.getUTCFullYear() === new Date().getUTCFullYear();
  return date.toLocaleDateString("en", {
    month: "short",
    day: "numeric",
    year: sameYear ? undefined : "numeric",
    timeZone: "UTC",
  });
}

function Tasks({ sync }: { sync: TaskSync }) {
  const snapshot = useSyncExternalStore(sync.subscribe, sync.getSnapshot, sync.getSnapshot);
  const [filters, setFilters] = useState<Filters>(noFilters);
  /**
   * The task being edited as the editor opened on it, and that version's If-Match: a change that
   * arrives meanwhile does not shift the form under the person; saving then meets it as a conflict.
   */
  const [editing, setEditing] = useState<{ task: Task; ifMatch: ReturnType<TaskSync["ifMatchFor"]> }>();
  /** A delete waiting out its undo time; queued when the time is up, or when the page goes away. */
  const [deleting, setDeleting] = useState<{ task: Task; timer: ReturnType<typeof setTimeout> }>();
  const editButtons = useRef(new Map<string, HTMLButtonElement>());

  const byId = new Map(snapshot.tasks.map((shown) => [shown.task.id, shown]));
  const shown = visibleTasks(
    snapshot.tasks.filter((t) => t.task.id !== deleting?.task.id).map((t) => t.task),
    filters,
  ).map((task) => byId.get(task.id) as ShownTask);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const priority = String(form.get("priority"));
    const dueDate = String(form.get("due_date"));
    formElement.reset();
    await sync.enqueue({
      kind: "create",
      id: `local-${crypto.randomUUID()}`,
      body: {
        title: String(form.get("title")),
        priority: priority === "" ? null : (priority as Task["priority"]),
        due_date: dueDate === "" ? null : dueDate,
      },
    });
  }

  function toggle(task: Task) {
    // Sets the state shown rather than flipping: a retry, or two quick clicks, end where the box shows.
    void sync.enqueue({ kind: "toggle", id: task.id, completed: !task.completed, ifMatch: sync.ifMatchFor(task.id) });
  }

  const queueDelete = (task: Task) => sync.enqueue({ kind: "delete", id: task.id, ifMatch: sync.ifMatchFor(task.id) });

  function remove(task: Task) {
    if (deleting) {
      clearTimeout(deleting.timer);
      void queueDelete(deleting.task);
    }
    const timer = setTimeout(() => {
      setDeleting(undefined);
      void queueDelete(task);
    }, UNDO_MS);
    setDeleting({ task, timer });
  }

  /** The delete made now, without waiting out the undo time. */
  function commitDelete() {
    if (!deleting) return;
    clearTimeout(deleting.timer);
    setDeleting(undefined);
    void queueDelete(deleting.task);
  }

  function undo() {
    if (!deleting) return;
    clearTimeout(deleting.timer);
    editButtons.current.get(deleting.task.id)?.focus();
    setDeleting(undefined);
  }

  // Leaving the page does not cancel a delete the person already made.
  useEffect(() => {
    if (!deleting) return;
    const flush = () => {
      clearTimeout(deleting.timer);
      void sync.enqueue({ kind: "delete", id: deleting.task.id, ifMatch: sync.ifMatchFor(deleting.task.id) });
    };
    window.addEventListener("pagehide", flush);
    return () => window.removeEventListener("pagehide", flush);
  }, [deleting, sync]);

  function setFilter<K extends keyof Filters>(key: K, value: Filters[K]) {
    setFilters((current) => ({ ...current, [key]: value }));
  }

  function closeEditor(id: string) {
    setEditing(undefined);
    // Back to where the person was: the Edit button of the task they edited.
    requestAnimationFrame(() => editButtons.current.get(id)?.focus());
  }

  const count = snapshot.ready ? shown.length : undefined;

  return (
    <>
      <form onSubmit={create} className="new-task" aria-label="New task">
        <input name="title" required maxLength={TITLE_MAX} placeholder="What needs doing?" aria-label="Title" />
        <PrioritySelect name="priority" label="Priority" />
        <input name="due_date" type="date" aria-label="Due date" />
        <button type="submit" className="primary">
          Add
        </button>
      </form>

      <fieldset className="filters">
        <legend>Show</legend>
        <label>
          <span>Status</span>
          <select value={filters.status} onChange={(e) => setFilter("status", e.target.value as Filters["status"])}>
            <option value="all">All</option>
            <option value="pending">Pending</option>
            <option value="completed">Completed</option>
          </select>
        </label>
        <label>
          <span>Priority</span>
          <select
            aria-label="Priority filter"
            value={filters.priority}
            onChange={(e) => setFilter("priority", e.target.value as Filters["priority"])}
          >
            <option value="">Any</option>
            {priorityChoices.map(({ value, label }) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label className="grow">
          <span>Search</span>
          <input
            type="search"
            maxLength={DESCRIPTION_MAX}
            placeholder="Title or description"
            value={filters.q}
            onChange={(e) => setFilter("q", e.target.value)}
          />
        </label>
        <label>
          <span>Sort by</span>
          <select value={filters.sort} onChange={(e) => setFilter("sort", e.target.value as Filters["sort"])}>
            <option value="created">Created</option>
            <option value="updated">Updated</option>
            <option value="title">Title</option>
            <option value="due_date">Due date</option>
            <option value="priority">Priority</option>
          </select>
        </label>
        <label>
          <span>Order</span>
          <select value={filters.order} onChange={(e) => setFilter("order", e.target.value as Filters["order"])}>
            <option value="">Default</option>
            <option value="asc">Ascending</option>
            <option value="desc">Descending</option>
          </select>
        </label>
      </fieldset>

      {snapshot.problem && <p role="alert">{snapshot.problem}</p>}
      {snapshot.conflicts.map((conflict) => (
        <ConflictNotice key={conflict.seq} conflict={conflict} sync={sync} />
      ))}
      <p className="status-line">
        <span aria-live="polite" className="count">
          {count === undefined ? "Loading…" : `${count} ${count === 1 ? "task" : "tasks"}`}
        </span>
        {!snapshot.online && <span className="offline">Offline</span>}
        {snapshot.waiting > 0 && (
          <span className="waiting">
            {snapshot.waiting} {snapshot.waiting === 1 ? "change" : "changes"} waiting to sync
          </span>
        )}
      </p>

      <ul className="tasks">
        {shown.map(({ task, pending }) =>
          editing?.task.id === task.id ? (
            <li key={task.id} className="editing">
              <TaskEditor
                task={editing.task}
                onSave={(changes) => {
                  if (Object.keys(changes).length > 0)
                    void sync.enqueue({ kind: "edit", id: task.id, changes, ifMatch: editing.ifMatch });
                  closeEditor(task.id);
                }}
                onCancel={() => closeEditor(task.id)}
              />
            </li>
          ) : (
            <li key={task.id} className={task.completed ? "done" : undefined} data-pending={pending || undefined}>
              <input
                type="checkbox"
                checked={task.completed}
                aria-label={`Done: ${task.title}`}
                onChange={() => toggle(task)}
              />
              <div className="body">
                <span className="title">{task.title}</span>
                {task.description && <p className="description">{task.description}</p>}
                {(task.priority || task.due_date || pending) && (
                  <span className="meta">
                    {task.priority && <span className={`badge ${task.priority}`}>{task.priority}</span>}
                    {task.due_date && (
                      <time dateTime={task.due_date} title={`due ${task.due_date.slice(0, 10)}`}>
                        due {shortDate(task.due_date)}
                      </time>
                    )}
                    {pending && <span className="pending-mark">not synced yet</span>}
                  </span>
                )}
              </div>
              <span className="actions">
                <button
                  type="button"
                  className="quiet"
                  ref={(button) => {
                    if (button) editButtons.current.set(task.id, button);
                    else editButtons.current.delete(task.id);
                  }}
                  onClick={() => setEditing({ task, ifMatch: sync.ifMatchFor(task.id) })}
                  aria-label={`Edit: ${task.title}`}
                >
                  Edit
                </button>
                <button
                  type="button"
                  className="quiet danger"
                  onClick={() => remove(task)}
                  aria-label={`Delete: ${task.title}`}
                >
                  Delete
                </button>
              </span>
            </li>
          ),
        )}
      </ul>

      {deleting && (
        <div className="toast" role="status">
          <span>Deleted “{deleting.task.title}”.</span>
          <button type="button" onClick={undo}>
            Undo
          </button>
          <button type="button" aria-label="Dismiss" onClick={() => commitDelete()}>
            ✕
          </button>
        </div>
      )}
    </>
  );
}

function describeOp(op: Conflict["ops"][number]) {
  if (op.kind === "toggle") return op.completed ? "marked done" : "marked not done";
  if (op.kind === "delete") return "deleted";
  if (op.kind === "create") return "created";
  return Object.entries(op.changes ?? {})
    .map(([field, value]) => `${field.replace("_", " ")} → ${value ?? "none"}`)
    .join(", ");
}

/** A change the API refused (412): the task changed elsewhere first. The person decides. */
function ConflictNotice({ conflict, sync }: { conflict: Conflict; sync: TaskSync }) {
  const title = conflict.current?.title ?? (conflict.ops[0]?.kind === "edit" ? conflict.ops[0].changes?.title : "");
  return (
    <div className="conflict" role="alert">
      <p>
        “{title}” was changed on another device before your change arrived
        {conflict.current ? "; it is shown as it is now." : ", and deleted there."} Your change:{" "}
        {conflict.ops.map(describeOp).join("; ")}.
      </p>
      <div className="row">
        {conflict.current && (
          <button type="button" className="primary" onClick={() => sync.resolve(conflict, true)}>
            Apply my change again
          </button>
        )}
        <button type="button" onClick={() => sync.resolve(conflict, false)}>
          {conflict.current ? "Keep theirs" : "Dismiss"}
        </button>
      </div>
    </div>
  );
}
