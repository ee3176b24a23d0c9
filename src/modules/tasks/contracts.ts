// The task routes' contracts, one object beside the handlers (index.ts): what each route takes
// (path parameters, query, headers, body) and answers, for validation, the OpenAPI document and
// Eden's types. The handlers stay short enough to read as what the route does.
import { type TSchema, t } from "elysia";
import { ErrorBody, ValidationErrorBody } from "../../http/error-body.ts";
import { IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEYS_PER_USER } from "../../rules.ts";
import { Task, TaskCompletion, TaskCreate, TaskListQuery, TaskUpdate } from "./model.ts";

const TaskId = t.String({
  description: "The task's id (a UUID; anything else is a 404)",
  examples: ["6e38eb30-9039-4a7c-b64e-bca990ef7571"],
});

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
const ifNoneMatchStar = t.Optional(
  t.String({
    description:
      "`*`: write only if the task does not exist. Every task written here exists: 412 with the current ETag, nothing written.",
  }),
);
const idempotencyKey = t.Optional(
  t.String({
    description: `1–${IDEMPOTENCY_KEY_MAX} printable ASCII characters. A retry with the same key, method, path and body gets the first 2xx answer again (\`Idempotent-Replayed: true\`) for 24 h; another request with the key: 422; while the first runs: 409; past ${IDEMPOTENCY_KEYS_PER_USER} answers kept for the caller: 429.`,
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
  429: withHeaders(
    t.Object(ErrorBody.properties, {
      description: "The caller keeps as many Idempotency-Key answers as allowed; nothing was written.",
    }),
    { "retry-after": t.String({ description: "Seconds until the oldest kept answer expires." }) },
  ),
};
const writeErrors = { ...bodyErrors, 412: Changed, ...retryErrors };

const update = {
  params: t.Object({ id: TaskId }),
  body: TaskUpdate,
  parse: "json" as const,
  headers: t.Object({ "if-match": ifMatch, "if-none-match": ifNoneMatchStar, "idempotency-key": idempotencyKey }),
  response: { 200: TaskAnswer, ...writeErrors },
};

export const taskContracts = {
  list: {
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
  create: {
    body: TaskCreate,
    // Bodies are read by src/http/body.ts; "json" names the media type for OpenAPI.
    parse: "json" as const,
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
  get: {
    params: t.Object({ id: TaskId }),
    headers: t.Object({ "if-none-match": ifNoneMatch }),
    response: { 200: TaskAnswer, 304: NotModified, ...errors },
    detail: { summary: "Get a task" },
  },
  // PUT and PATCH are one route under two methods (docs/api.md): any subset of the writable fields.
  put: {
    ...update,
    detail: {
      summary: "Update a task",
      description: "Same as PATCH: any subset of the writable fields; only those given are written.",
    },
  },
  patch: {
    ...update,
    detail: {
      summary: "Update some fields of a task",
      description: "Only the fields given are written; `null` clears an optional field.",
    },
  },
  remove: {
    params: t.Object({ id: TaskId }),
    headers: t.Object({ "if-match": ifMatch, "if-none-match": ifNoneMatchStar, "idempotency-key": idempotencyKey }),
    response: {
      204: withHeaders(t.Void({ description: "Deleted; no body" }), replayedHeader),
      ...errors,
      412: Changed,
      ...retryErrors,
    },
    detail: { summary: "Delete a task" },
  },
  complete: {
    params: t.Object({ id: TaskId }),
    body: TaskCompletion,
    parse: "json" as const,
    headers: t.Object({ "if-match": ifMatch, "if-none-match": ifNoneMatchStar, "idempotency-key": idempotencyKey }),
    response: { 200: TaskAnswer, ...writeErrors },
    detail: {
      summary: "Toggle or set completion",
      description: 'Without a body `completed` flips atomically; with `{"completed": true|false}` it is set.',
    },
  },
};
