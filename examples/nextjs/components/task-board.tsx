"use client";
import { useRouter } from "next/navigation";
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { detailOf, type Task, type TaskQuery } from "../lib/api.ts";
import type { User } from "../lib/auth.ts";
import { authClient } from "../lib/auth-client.ts";
import { followTaskEvents } from "../lib/events.ts";
import { forgetApiToken } from "../lib/token.ts";
import { useApi } from "./api-provider.tsx";
import { PrioritySelect } from "./priority-select.tsx";
import { TaskEditor } from "./task-editor.tsx";

type Filters = Required<Pick<TaskQuery, "status" | "sort">> & {
  priority: NonNullable<TaskQuery["priority"]> | "";
  order: NonNullable<TaskQuery["order"]> | "";
  q: string;
};

const noFilters: Filters = { status: "all", priority: "", q: "", sort: "created", order: "" };

/** The board of a signed-in user (the page sends anyone else to /sign-in before rendering it). */
export function TaskBoard({ user }: { user: User }) {
  const router = useRouter();

  async function signOut() {
    await authClient.signOut();
    forgetApiToken();
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
      <Tasks />
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

function Tasks() {
  const { api, url } = useApi();
  const [filters, setFilters] = useState<Filters>(noFilters);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [total, setTotal] = useState<number>();
  const [editing, setEditing] = useState<string>();
  const [problem, setProblem] = useState<string>();
  /** Toggles shown at once, before the server has answered: id → the state shown. */
  const [toggled, setToggled] = useState<Record<string, boolean>>({});
  /** A delete waiting out its undo time; sent when the time is up, or when the page goes away. */
  const [deleting, setDeleting] = useState<{ task: Task; timer: ReturnType<typeof setTimeout> }>();
  const latestLoad = useRef(0);
  const editButtons = useRef(new Map<string, HTMLButtonElement>());

  const load = useCallback(async () => {
    const query: TaskQuery = { status: filters.status, sort: filters.sort };
    if (filters.priority) query.priority = filters.priority;
    if (filters.order) query.order = filters.order;
    if (filters.q) query.q = filters.q;
    const thisLoad = ++latestLoad.current;
    const { data, error, response } = await api.api.tasks.get({ query });
    // A slower answer to an older query must not replace a newer one.
    if (thisLoad !== latestLoad.current) return;
    if (error) return setProblem(detailOf(error));
    setTasks(data);
    setTotal(Number(response.headers.get("x-total-count")));
  }, [api, filters]);

  useEffect(() => {
    load();
  }, [load]);

  // Any change, from this tab or another device, reloads the list: the server filters and sorts.
  const reload = useRef(load);
  useEffect(() => {
    reload.current = load;
  }, [load]);
  useEffect(() => {
    const stop = new AbortController();
    followTaskEvents(url, stop.signal, { onOpen: () => reload.current(), onEvent: () => reload.current() });
    return () => stop.abort();
  }, [url]);

  async function act(request: Promise<{ error: { value: object } | null }>) {
    const { error } = await request;
    setProblem(error ? detailOf(error) : undefined);
    await load();
  }

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const priority = String(form.get("priority"));
    const dueDate = String(form.get("due_date"));
    await act(
      api.api.tasks.post({
        title: String(form.get("title")),
        priority: priority === "" ? null : (priority as Task["priority"]),
        due_date: dueDate === "" ? null : dueDate,
      }),
    );
    formElement.reset();
  }

  async function toggle(task: Task) {
    const completed = !(toggled[task.id] ?? task.completed);
    setToggled((shown) => ({ ...shown, [task.id]: completed }));
    // Sets the state shown rather than flipping: two quick clicks end where the box shows.
    await act(api.api.tasks({ id: task.id }).complete.patch({ completed }));
    setToggled(({ [task.id]: _, ...rest }) => rest);
  }

  const sendDelete = useCallback(
    async (task: Task) => {
      const { error } = await api.api.tasks({ id: task.id }).delete();
      setProblem(error ? detailOf(error) : undefined);
      await reload.current();
    },
    [api],
  );

  function remove(task: Task) {
    if (deleting) {
      clearTimeout(deleting.timer);
      void sendDelete(deleting.task);
    }
    const timer = setTimeout(() => {
      setDeleting(undefined);
      void sendDelete(task);
    }, UNDO_MS);
    setDeleting({ task, timer });
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
      void sendDelete(deleting.task);
    };
    window.addEventListener("pagehide", flush);
    return () => window.removeEventListener("pagehide", flush);
  }, [deleting, sendDelete]);

  function setFilter<K extends keyof Filters>(key: K, value: Filters[K]) {
    setFilters((current) => ({ ...current, [key]: value }));
  }

  function closeEditor(id: string) {
    setEditing(undefined);
    load();
    // Back to where the person was: the Edit button of the task they edited.
    requestAnimationFrame(() => editButtons.current.get(id)?.focus());
  }

  const shown = tasks.filter((task) => task.id !== deleting?.task.id);
  const count = total === undefined ? undefined : total - (tasks.length - shown.length);

  return (
    <>
      <form onSubmit={create} className="new-task" aria-label="New task">
        <input name="title" required maxLength={200} placeholder="What needs doing?" aria-label="Title" />
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
            <option value="high">High</option>
            <option value="medium">Medium</option>
            <option value="low">Low</option>
          </select>
        </label>
        <label className="grow">
          <span>Search</span>
          <input
            type="search"
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

      {problem && <p role="alert">{problem}</p>}
      <p aria-live="polite" className="count">
        {count === undefined ? "Loading…" : `${count} ${count === 1 ? "task" : "tasks"}`}
      </p>

      <ul className="tasks">
        {shown.map((task) => {
          const completed = toggled[task.id] ?? task.completed;
          return editing === task.id ? (
            <li key={task.id} className="editing">
              <TaskEditor id={task.id} onDone={() => closeEditor(task.id)} />
            </li>
          ) : (
            <li key={task.id} className={completed ? "done" : undefined}>
              <input
                type="checkbox"
                checked={completed}
                aria-label={`Done: ${task.title}`}
                onChange={() => toggle(task)}
              />
              <div className="body">
                <span className="title">{task.title}</span>
                {task.description && <p className="description">{task.description}</p>}
                {(task.priority || task.due_date) && (
                  <span className="meta">
                    {task.priority && <span className={`badge ${task.priority}`}>{task.priority}</span>}
                    {task.due_date && (
                      <time dateTime={task.due_date} title={`due ${task.due_date.slice(0, 10)}`}>
                        due {shortDate(task.due_date)}
                      </time>
                    )}
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
                  onClick={() => setEditing(task.id)}
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
          );
        })}
      </ul>

      {deleting && (
        <div className="toast" role="status">
          <span>Deleted “{deleting.task.title}”.</span>
          <button type="button" onClick={undo}>
            Undo
          </button>
        </div>
      )}
    </>
  );
}
