// The tasks API's schemas. Validation, the OpenAPI document and Eden's types all come from these,
// so a rule written here is enforced, documented and typed at once. A schema's `error` is the
// message a client gets in `errors[].message` when the rule is more than one keyword.
import { type TSchema, t } from "elysia";
import { FormatRegistry } from "elysia/type-system";
import { queryInteger } from "../../http/query-integer.ts";
import { TEXT_FORMAT } from "../../http/text.ts";
import { DESCRIPTION_MAX, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, PRIORITIES, TITLE_MAX, TITLE_RULE } from "../../rules.ts";
import { parseDueDate } from "./due-date.ts";

/**
 * One of `values`. `default: undefined` because t.UnionEnum otherwise defaults to its first value,
 * which Elysia then fills into an absent optional field.
 */
function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  options: { default?: T[number]; description?: string } = {},
) {
  return t.UnionEnum(values, { default: undefined, error: `must be one of ${values.join(", ")}`, ...options });
}

/** `schema` or null; `error` names both, since a union fails as a whole. */
function orNull<T extends TSchema>(schema: T, options: { description: string; examples: unknown[]; error: string }) {
  return t.Union([schema, t.Null()], options);
}

// Lengths count UTF-16 code units, like JavaScript's `length` and an HTML input's `maxlength`, so a
// frontend's own check agrees with ours; the database's CHECK counts code points, never more.
// The title is stored trimmed, so the rule is on the trimmed text: optional whitespace, a non-space,
// up to 198 more characters ending in a non-space, optional whitespace.
const TITLE_PATTERN = `^\\s*\\S(?:[\\s\\S]{0,${TITLE_MAX - 2}}\\S)?\\s*$`;

// A named format, so parseDueDate is the rule TypeBox checks and the OpenAPI document names.
const DUE_DATE_FORMAT = "date-time-or-date";
FormatRegistry.Set(DUE_DATE_FORMAT, (value) => parseDueDate(value) !== undefined);

const Priority = oneOf(PRIORITIES);

// Each writable field once: the rule a request must keep (`input`), and the type it is answered
// as (`output`). Requests are checked against the rules; answers, which hold only what passed them,
// against the plain types (a pattern checked on every answer would cost every list).
const writable = {
  title: {
    input: t.String({
      format: TEXT_FORMAT,
      pattern: TITLE_PATTERN,
      description: `Trimmed; 1–${TITLE_MAX} characters after trimming.`,
      examples: ["Write the report"],
      error: TITLE_RULE,
    }),
    output: t.String(),
  },
  description: {
    input: orNull(t.String({ format: TEXT_FORMAT, maxLength: DESCRIPTION_MAX }), {
      description: `At most ${DESCRIPTION_MAX} characters; \`null\` clears it.`,
      examples: ["Numbers for Q4, two pages."],
      error: `must be a string of at most ${DESCRIPTION_MAX} characters, or null`,
    }),
    output: t.Nullable(t.String()),
  },
  completed: {
    input: t.Boolean({ description: "Default: false.", error: "must be true or false" }),
    output: t.Boolean(),
  },
  priority: {
    input: orNull(Priority, {
      description: "`null` clears it.",
      examples: ["high"],
      error: `must be one of ${PRIORITIES.join(", ")}, or null`,
    }),
    output: t.Nullable(Priority),
  },
  due_date: {
    input: orNull(t.String({ format: DUE_DATE_FORMAT }), {
      description:
        "ISO 8601 date-time with `Z` or an offset, or a plain date (midnight UTC), years 1000–9999; `null` clears it.",
      examples: ["2026-12-01T17:00:00.000Z", "2026-12-01"],
      error: "must be an ISO 8601 date-time with a time zone (2026-12-01T17:00:00Z) or a date (2026-12-01), or null",
    }),
    output: t.Nullable(t.String({ format: "date-time" })),
  },
};

type Writable = typeof writable;
function side<S extends "input" | "output">(which: S) {
  return Object.fromEntries(Object.entries(writable).map(([name, field]) => [name, field[which]])) as {
    [N in keyof Writable]: Writable[N][S];
  };
}
const fields = side("input");

const ignoredFields = "`id`, `user_id`, `created_at`, `updated_at` and unknown fields are ignored.";

export const TaskCreate = t.Object(
  {
    title: fields.title,
    description: t.Optional(fields.description),
    completed: t.Optional(fields.completed),
    priority: t.Optional(fields.priority),
    due_date: t.Optional(fields.due_date),
  },
  {
    description: `Fields not given are null (\`completed\`: false). ${ignoredFields}`,
    examples: [{ title: "Write the report", priority: "high", due_date: "2026-12-01T17:00:00Z" }],
  },
);
export type TaskCreate = typeof TaskCreate.static;

export const TaskUpdate = t.Partial(t.Object(fields), {
  description: `Any subset of the writable fields; only those given are written, \`null\` clears an optional one. ${ignoredFields}`,
  examples: [{ completed: true }, { priority: null, due_date: "2026-12-24" }],
});
export type TaskUpdate = typeof TaskUpdate.static;

export const TaskCompletion = t.Optional(
  t.Object(
    { completed: t.Optional(fields.completed) },
    {
      description: "Without a body (or without `completed`) the task's `completed` flips; with it, it is set.",
      examples: [{ completed: true }],
    },
  ),
);

export const Task = t.Object(
  {
    id: t.String({ format: "uuid" }),
    user_id: t.String(),
    ...side("output"),
    created_at: t.String({ format: "date-time" }),
    updated_at: t.String({ format: "date-time" }),
  },
  {
    examples: [
      {
        id: "6e38eb30-9039-4a7c-b64e-bca990ef7571",
        user_id: "PRFtYahHnGm9bx6StXSFrO1NfZEEy1Xj",
        title: "Write the report",
        description: null,
        completed: false,
        priority: "high",
        due_date: "2026-12-01T17:00:00.000Z",
        created_at: "2026-11-21T19:18:47.247Z",
        updated_at: "2026-11-21T19:18:47.247Z",
      },
    ],
  },
);
export type Task = typeof Task.static;

export const TaskListQuery = t.Object({
  status: t.Optional(oneOf(["all", "pending", "completed"], { default: "all" })),
  priority: t.Optional(oneOf(PRIORITIES, { description: "Only tasks of this priority." })),
  // No task holds a longer text, and a search's cost grows with the length of `q` times the tasks
  // it reads: 7,000 characters held PGlite, which has no statement deadline, for 8 s.
  q: t.Optional(
    t.String({
      format: TEXT_FORMAT,
      maxLength: DESCRIPTION_MAX,
      description: `Matched literally and case-insensitively in title and description (\`%\` and \`_\` are not wildcards); at most ${DESCRIPTION_MAX} characters.`,
      error: `must be a string of at most ${DESCRIPTION_MAX} characters`,
    }),
  ),
  sort: t.Optional(oneOf(["created", "updated", "title", "due_date", "priority"], { default: "created" })),
  order: t.Optional(
    oneOf(["asc", "desc"], {
      description:
        "Default: `desc` for created, updated and priority (high first); `asc` for title (case-insensitive) and due_date. " +
        "Tasks without a due date or priority come last either way; ties break by created_at, then id, in the same direction.",
    }),
  ),
  limit: t.Optional(queryInteger(1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT)),
  offset: t.Optional(queryInteger(0, Number.MAX_SAFE_INTEGER, 0)),
});
export type TaskListQuery = typeof TaskListQuery.static;
export type TaskSort = NonNullable<TaskListQuery["sort"]>;
