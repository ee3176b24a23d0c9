// The board's view of the local copy: the list query's filters and order, as docs/api.md defines
// them for GET /api/tasks, computed in the browser so the board works without a network.
import { PRIORITIES, type Priority } from "todo-api/src/rules.ts";
import type { Task, TaskQuery } from "../api.ts";

export type Filters = Required<Pick<TaskQuery, "status" | "sort">> & {
  priority: NonNullable<TaskQuery["priority"]> | "";
  order: NonNullable<TaskQuery["order"]> | "";
  q: string;
};

export const noFilters: Filters = { status: "all", priority: "", q: "", sort: "created", order: "" };

/** A priority's rank: its place in the API's list of them, lowest first. */
const priorityRank = (priority: Priority) => PRIORITIES.indexOf(priority) + 1;

/** The sort key, or null for "no value" (always last, in either order). */
function keyOf(task: Task, sort: Filters["sort"]): string | number | null {
  switch (sort) {
    case "created":
      return task.created_at;
    case "updated":
      return task.updated_at;
    case "title":
      return task.title.toLowerCase();
    case "due_date":
      return task.due_date;
    case "priority":
      return task.priority ? priorityRank(task.priority) : null;
  }
}

function compare(a: string | number, b: string | number) {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function visibleTasks(tasks: Iterable<Task>, filters: Filters): Task[] {
  const q = filters.q.toLowerCase();
  const matching = [...tasks].filter(
    (task) =>
      (filters.status === "all" || task.completed === (filters.status === "completed")) &&
      (!filters.priority || task.priority === filters.priority) &&
      (!q || task.title.toLowerCase().includes(q) || (task.description ?? "").toLowerCase().includes(q)),
  );
  const ascending = filters.order ? filters.order === "asc" : filters.sort === "title" || filters.sort === "due_date";
  const direction = ascending ? 1 : -1;
  return matching.sort((a, b) => {
    const [ka, kb] = [keyOf(a, filters.sort), keyOf(b, filters.sort)];
    if (ka === null || kb === null) {
      if (ka !== kb) return ka === null ? 1 : -1;
    } else if (ka !== kb) return direction * compare(ka, kb);
    // Ties break by created_at, then id, in the sort's direction (as the server's list does).
    return direction * (compare(a.created_at, b.created_at) || compare(a.id, b.id));
  });
}
