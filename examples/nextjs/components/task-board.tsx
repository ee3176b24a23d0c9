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
      <header className="row spread">
        <h1>Tasks</h1>
        <span>
          {user.email}{" "}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <Tasks />
    </main>
  );
}

function Tasks() {
  const { api, url } = useApi();
  const [filters, setFilters] = useState<Filters>(noFilters);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [total, setTotal] = useState<number>();
  const [editing, setEditing] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const latestLoad = useRef(0);

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

  function setFilter<K extends keyof Filters>(key: K, value: Filters[K]) {
    setFilters((current) => ({ ...current, [key]: value }));
  }

  return (
    <>
      <form onSubmit={create} className="row" aria-label="New task">
        <input name="title" required maxLength={200} placeholder="What needs doing?" aria-label="Title" />
        <PrioritySelect name="priority" label="Priority" />
        <input name="due_date" type="date" aria-label="Due date" />
        <button type="submit">Add</button>
      </form>

      <fieldset className="row filters">
        <legend>Show</legend>
        <select
          aria-label="Status"
          value={filters.status}
          onChange={(e) => setFilter("status", e.target.value as Filters["status"])}
        >
          <option value="all">All</option>
          <option value="pending">Pending</option>
          <option value="completed">Completed</option>
        </select>
        <select
          aria-label="Priority filter"
          value={filters.priority}
          onChange={(e) => setFilter("priority", e.target.value as Filters["priority"])}
        >
          <option value="">Any priority</option>
          <option value="high">High</option>
          <option value="medium">Medium</option>
          <option value="low">Low</option>
        </select>
        <input
          type="search"
          aria-label="Search"
          placeholder="Search"
          value={filters.q}
          onChange={(e) => setFilter("q", e.target.value)}
        />
        <select
          aria-label="Sort by"
          value={filters.sort}
          onChange={(e) => setFilter("sort", e.target.value as Filters["sort"])}
        >
          <option value="created">Created</option>
          <option value="updated">Updated</option>
          <option value="title">Title</option>
          <option value="due_date">Due date</option>
          <option value="priority">Priority</option>
        </select>
        <select
          aria-label="Order"
          value={filters.order}
          onChange={(e) => setFilter("order", e.target.value as Filters["order"])}
        >
          <option value="">Default order</option>
          <option value="asc">Ascending</option>
          <option value="desc">Descending</option>
        </select>
      </fieldset>

      {problem && <p role="alert">{problem}</p>}
      <p aria-live="polite">{total === undefined ? "Loading…" : `${total} ${total === 1 ? "task" : "tasks"}`}</p>

      <ul className="tasks">
        {tasks.map((task) =>
          editing === task.id ? (
            <li key={task.id}>
              <TaskEditor
                id={task.id}
                onDone={() => {
                  setEditing(undefined);
                  load();
                }}
              />
            </li>
          ) : (
            <li key={task.id} className={task.completed ? "done" : undefined}>
              <input
                type="checkbox"
                checked={task.completed}
                aria-label={`Done: ${task.title}`}
                onChange={() => act(api.api.tasks({ id: task.id }).complete.patch())}
              />
              <span className="title">{task.title}</span>
              {task.priority && <span className={`badge ${task.priority}`}>{task.priority}</span>}
              {task.due_date && <time dateTime={task.due_date}>due {task.due_date.slice(0, 10)}</time>}
              <button type="button" onClick={() => setEditing(task.id)} aria-label={`Edit: ${task.title}`}>
                Edit
              </button>
              <button
                type="button"
                onClick={() => act(api.api.tasks({ id: task.id }).delete())}
                aria-label={`Delete: ${task.title}`}
              >
                Delete
              </button>
            </li>
          ),
        )}
      </ul>
    </>
  );
}
