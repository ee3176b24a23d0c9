// The task routes of docs/api.md, written once and mounted in both shapes of the contract:
// /api/tasks... (the user is the token's) and /api/:user_id/tasks... (the hackathon shape).
import { Elysia, type TSchema, t } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { ErrorBody, ValidationErrorBody } from "../../http/error-body.ts";
import { HttpError } from "../../http/errors.ts";
import { metrics } from "../../observability/metrics.ts";
import type { eventRoutes } from "../events/index.ts";
import { listEtag, noneMatch, taggedVersions, taskEtag } from "./etag.ts";
import { readChanges } from "./feed.ts";
import {
  CHANGES_LIMIT_DEFAULT,
  ChangesQuery,
  Task,
  TaskChanges,
  TaskCompletion,
  TaskCreate,
  TaskListQuery,
  TaskUpdate,
} from "./model.ts";
import {
  completeTask,
  createTask,
  deleteTask,
  type Expected,
  getTask,
  listKey,
  listState,
  listTasks,
  updateTask,
} from "./service.ts";

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

// Request headers of the contract's "Versions, safe retries and sync", documented on each route.
const ifNoneMatch = t.Optional(
  t.String({
    description: "An ETag from an earlier answer (or a list of them, or `*`): 304 when it is still current.",
  }),
);
const ifMatch = t.Optional(
  t.String({
    description:
      "Write only over this version: an ETag, a list of them, or `*`. None current: 412 with the current ETag, nothing written.",
  }),
);
const idempotencyKey = t.Optional(
  t.String({
    description:
      "1–255 printable ASCII characters. A retry with the same key, method, path and body gets the first 2xx answer again (`Idempotent-Replayed: true`) for 24 h; another request with the key: 422; while the first runs: 409.",
  }),
);

// Response headers, in the form @elysiajs/openapi reads from a response schema's `headers`.
const etagHeader = { etag: t.String({ description: "The strong ETag of the task (or of the list)." }) };
const replayedHeader = {
  "idempotent-replayed": t.Optional(t.Literal("true", { description: "Present on an answer replayed for a retry." })),
};
const withHeaders = <T extends TSchema>(schema: T, headers: Record<string, TSchema>): T => ({ ...schema, headers });

const TaskAnswer = withHeaders(Task, { ...etagHeader, ...replayedHeader });
const NotModified = withHeaders(
  t.Void({ description: "Not modified: the ETag given is current; no body." }),
  etagHeader,
);
const Changed = withHeaders(
  t.Object(ErrorBody.properties, {
    description: "If-Match names no current version; nothing was written.",
    examples: [{ detail: "Task has changed since it was read" }],
  }),
  etagHeader,
);
const retryErrors = {
  409: t.Object(ErrorBody.properties, {
    description: "A request with this Idempotency-Key is still being carried out.",
  }),
  422: t.Object(ErrorBody.properties, { description: "This Idempotency-Key was used for a different request." }),
};
const writeErrors = { ...bodyErrors, 412: Changed, ...retryErrors };

/** What an If-Match allows: undefined for no header or `*` (any current version), else the versions it names. */
function expected(header: string | undefined): Expected {
  if (header === undefined) return undefined;
  const versions = taggedVersions(header);
  return versions === "*" ? undefined : versions;
}

type EventRoutes = ReturnType<typeof eventRoutes>;

const updateOptions = {
  params: t.Object({ id: TaskId }),
  body: TaskUpdate,
  parse: "json" as const,
  headers: t.Object({ "if-match": ifMatch, "idempotency-key": idempotencyKey }),
  response: { 200: TaskAnswer, ...writeErrors },
};

interface UpdateContext {
  user: { id: string };
  params: { id: string };
  body: TaskUpdate;
  headers: { "if-match"?: string };
  set: { headers: Record<string, string | number> };
}

function taskRoutes(auth: Authentication, db: Database, events: EventRoutes) {
  // PUT and PATCH are one route under two methods (docs/api.md): any subset of the writable fields.
  const update = async ({ user, params, body, headers, set }: UpdateContext) => {
    const { task, version } = await updateTask(db, user.id, params.id, body, expected(headers["if-match"]));
    set.headers.etag = taskEtag(version);
    return task;
  };
  return (
    new Elysia({ detail: { tags: ["Tasks"] } })
      // Answers carry ETags: browsers must ask again (with If-None-Match) rather than reuse a stored copy.
      .onTransform(({ set }) => {
        set.headers["cache-control"] = "private, no-cache";
      })
      .use(auth)
      .use(events)
      .get(
        "",
        async ({ user, query, headers, set, status }) => {
          const key = listKey(query);
          const condition = headers["if-none-match"];
          // A poll of a list that did not change costs one primary-key read, not the list.
          if (condition !== undefined) {
            const etag = listEtag(await listState(db, user.id), key);
            if (noneMatch(condition, etag)) {
              set.headers.etag = etag;
              return status(304, undefined);
            }
          }
          const page = await listTasks(db, user.id, query);
          set.headers["x-total-count"] = String(page.total);
          set.headers.etag = listEtag(page.state, key);
          return page.tasks;
        },
        {
          query: TaskListQuery,
          headers: t.Object({ "if-none-match": ifNoneMatch }),
          response: {
            200: withHeaders(t.Array(Task), {
              ...etagHeader,
              "x-total-count": t.String({ description: "Matching tasks before limit and offset." }),
            }),
            304: NotModified,
            400: ValidationErrorBody,
            ...errors,
          },
          detail: {
            summary: "List the caller's tasks",
            description:
              "A plain array; the header `X-Total-Count` gives the number of matching tasks before `limit`/`offset`. Ties in any sort break by `created_at`, then `id`. The `ETag` changes whenever any of the caller's tasks changes; `If-None-Match` with it: 304.",
          },
        },
      )
      .post(
        "",
        async ({ user, body, set, status }) => {
          const { task, version } = await createTask(db, user, body);
          set.headers.location = `/api/tasks/${task.id}`;
          set.headers.etag = taskEtag(version);
          return status(201, task);
        },
        {
          body: TaskCreate,
          // Bodies are read by src/http/body.ts; "json" names the media type for OpenAPI.
          parse: "json",
          headers: t.Object({ "idempotency-key": idempotencyKey }),
          response: {
            201: withHeaders(TaskAnswer, {
              ...etagHeader,
              ...replayedHeader,
              location: t.String({ description: "/api/tasks/{id}" }),
            }),
            ...bodyErrors,
            ...retryErrors,
          },
          detail: { summary: "Create a task", description: "201 with the task and `Location: /api/tasks/{id}`." },
        },
      )
      // Before /:id, which would take "changes" for a task id.
      .get(
        "/changes",
        async ({ user, query }) => {
          const page = await readChanges(db, user.id, query.since, query.limit ?? CHANGES_LIMIT_DEFAULT);
          metrics.changeFeedPage();
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
      .get(
        "/:id",
        async ({ user, params, headers, set, status }) => {
          const { task, version } = await getTask(db, user.id, params.id);
          set.headers.etag = taskEtag(version);
          const condition = headers["if-none-match"];
          if (condition !== undefined && noneMatch(condition, taskEtag(version))) return status(304, undefined);
          return task;
        },
        {
          params: t.Object({ id: TaskId }),
          headers: t.Object({ "if-none-match": ifNoneMatch }),
          response: { 200: TaskAnswer, 304: NotModified, ...errors },
          detail: { summary: "Get a task" },
        },
      )
      .put("/:id", update, {
        ...updateOptions,
        detail: {
          summary: "Update a task",
          description: "Same as PATCH: any subset of the writable fields; only those given are written.",
        },
      })
      .patch("/:id", update, {
        ...updateOptions,
        detail: {
          summary: "Update some fields of a task",
          description: "Only the fields given are written; `null` clears an optional field.",
        },
      })
      .delete(
        "/:id",
        async ({ user, params, headers, status }) => {
          await deleteTask(db, user.id, params.id, expected(headers["if-match"]));
          return status(204, undefined);
        },
        {
          params: t.Object({ id: TaskId }),
          headers: t.Object({ "if-match": ifMatch, "idempotency-key": idempotencyKey }),
          response: {
            204: withHeaders(t.Void({ description: "Deleted; no body" }), replayedHeader),
            ...errors,
            412: Changed,
            ...retryErrors,
          },
          detail: { summary: "Delete a task" },
        },
      )
      .patch(
        "/:id/complete",
        async ({ user, params, body, headers, set }) => {
          const { task, version } = await completeTask(
            db,
            user.id,
            params.id,
            body?.completed,
            expected(headers["if-match"]),
          );
          set.headers.etag = taskEtag(version);
          return task;
        },
        {
          params: t.Object({ id: TaskId }),
          body: TaskCompletion,
          parse: "json",
          headers: t.Object({ "if-match": ifMatch, "idempotency-key": idempotencyKey }),
          response: { 200: TaskAnswer, ...writeErrors },
          detail: {
            summary: "Toggle or set completion",
            description: 'Without a body `completed` flips atomically; with `{"completed": true|false}` it is set.',
          },
        },
      )
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
