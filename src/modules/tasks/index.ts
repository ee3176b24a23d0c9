// The task routes of ../shared/api.md, written once and mounted in both shapes of the contract:
// /api/tasks... (the user is the token's) and /api/:user_id/tasks... (the hackathon shape).
import { Elysia, t } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { HttpError } from "../../http/errors.ts";
import type { eventRoutes } from "../events/index.ts";
import { readChanges } from "./feed.ts";
import {
  ChangesQuery,
  ErrorBody,
  Task,
  TaskChanges,
  TaskCompletion,
  TaskCreate,
  TaskListQuery,
  TaskUpdate,
  ValidationErrorBody,
} from "./model.ts";
import { completeTask, createTask, deleteTask, getTask, listTasks, updateTask } from "./service.ts";

type Authentication = ReturnType<typeof authentication>;

class ForeignUserError extends HttpError {
  constructor() {
    super(403, "Not authorized to access this user's tasks");
  }
}

const TaskId = t.String({
  description: "The task's id (a UUID; anything else is a 404)",
  examples: ["6e38eb30-9039-4a7c-b64e-bca990ef7571"],
});
const UserId = t.String({ description: "Must be the token's `sub`", examples: ["PRFtYahHnGm9bx6StXSFrO1NfZEEy1Xj"] });

const errors = {
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  503: ErrorBody,
};
const bodyErrors = { 400: ValidationErrorBody, 413: ErrorBody, ...errors };

type EventRoutes = ReturnType<typeof eventRoutes>;

function taskRoutes(auth: Authentication, db: Database, events: EventRoutes) {
  return new Elysia({ detail: { tags: ["Tasks"] } })
    .use(auth)
    .use(events)
    .get(
      "",
      async ({ user, query, set }) => {
        const page = await listTasks(db, user.id, query);
        set.headers["x-total-count"] = String(page.total);
        return page.tasks;
      },
      {
        query: TaskListQuery,
        response: { 200: t.Array(Task), 400: ValidationErrorBody, ...errors },
        detail: {
          summary: "List the caller's tasks",
          description:
            "A plain array; the header `X-Total-Count` gives the number of matching tasks before `limit`/`offset`. Ties in any sort break by `created_at`, then `id`.",
        },
      },
    )
    .post(
      "",
      async ({ user, body, set, status }) => {
        const { task } = await createTask(db, user.id, body);
        set.headers.location = `/api/tasks/${task.id}`;
        return status(201, task);
      },
      {
        body: TaskCreate,
        // Bodies are read by src/http/body.ts; "json" names the media type for OpenAPI.
        parse: "json",
        response: { 201: Task, ...bodyErrors },
        detail: { summary: "Create a task", description: "201 with the task and `Location: /api/tasks/{id}`." },
      },
    )
    .get(
      "/changes",
      async ({ user, query }) => {
        const page = await readChanges(db, user.id, query.since, query.limit ?? 500);
        const tasks: Task[] = [];
        const deleted: string[] = [];
        for (const change of page.changes) {
          if ("task" in change) tasks.push(change.task);
          else deleted.push(change.deleted);
        }
        return { tasks, deleted, cursor: page.cursor, has_more: page.hasMore };
      },
      {
        query: ChangesQuery,
        response: { 200: TaskChanges, 400: ValidationErrorBody, 410: ErrorBody, ...errors },
        detail: {
          summary: "What changed since a cursor (sync)",
          description:
            "Without `since`: the caller's current tasks, `deleted` empty. With it: every task created or changed after that cursor, once, in its current state, and the ids of the tasks deleted after it. `has_more: true`: ask again with `cursor`. Following cursors from a first sync ends with exactly the server's tasks, also while other writes commit (docs/sync.md). A `since` this service did not issue to the caller: 400; one older than the kept deletions (at least 30 days): 410.",
        },
      },
    )
    .get("/:id", async ({ user, params }) => (await getTask(db, user.id, params.id)).task, {
      params: t.Object({ id: TaskId }),
      response: { 200: Task, ...errors },
      detail: { summary: "Get a task" },
    })
    .put("/:id", async ({ user, params, body }) => (await updateTask(db, user.id, params.id, body)).task, {
      params: t.Object({ id: TaskId }),
      body: TaskUpdate,
      parse: "json",
      response: { 200: Task, ...bodyErrors },
      detail: {
        summary: "Update a task",
        description: "Same as PATCH: any subset of the writable fields; only those given are written.",
      },
    })
    .patch("/:id", async ({ user, params, body }) => (await updateTask(db, user.id, params.id, body)).task, {
      params: t.Object({ id: TaskId }),
      body: TaskUpdate,
      parse: "json",
      response: { 200: Task, ...bodyErrors },
      detail: {
        summary: "Update some fields of a task",
        description: "Only the fields given are written; `null` clears an optional field.",
      },
    })
    .delete(
      "/:id",
      async ({ user, params, status }) => {
        await deleteTask(db, user.id, params.id);
        return status(204, undefined);
      },
      {
        params: t.Object({ id: TaskId }),
        response: { 204: t.Void({ description: "Deleted; no body" }), ...errors },
        detail: { summary: "Delete a task" },
      },
    )
    .patch(
      "/:id/complete",
      async ({ user, params, body }) => (await completeTask(db, user.id, params.id, body?.completed)).task,
      {
        params: t.Object({ id: TaskId }),
        body: TaskCompletion,
        parse: "json",
        response: { 200: Task, ...bodyErrors },
        detail: {
          summary: "Toggle or set completion",
          description: 'Without a body `completed` flips atomically; with `{"completed": true|false}` it is set.',
        },
      },
    );
}

export function tasksModule(auth: Authentication, db: Database, events: EventRoutes) {
  return new Elysia({ name: "tasks" })
    .group("/tasks", (group) => group.use(taskRoutes(auth, db, events)))
    .use(auth)
    .group("/:user_id/tasks", { params: t.Object({ user_id: UserId }) }, (group) =>
      group
        // A derive runs before validation: a caller naming another user learns nothing more.
        .derive(({ params, user }) => {
          if (params.user_id !== user.id) throw new ForeignUserError();
          return {};
        })
        .use(taskRoutes(auth, db, events)),
    );
}
