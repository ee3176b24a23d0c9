// The change feed's schemas: its query and its answer, which lists tasks as the tasks module answers them.
import { t } from "elysia";
import { queryInteger } from "../../http/query-integer.ts";
import { CHANGES_LIMIT_DEFAULT, CHANGES_LIMIT_MAX } from "../../rules.ts";
import { Task } from "../tasks/model.ts";

export const ChangesQuery = t.Object({
  since: t.Optional(
    t.String({
      description:
        "A `cursor` from an earlier answer. Without it: the caller's current tasks (a first sync), no deletions.",
    }),
  ),
  limit: t.Optional(queryInteger(1, CHANGES_LIMIT_MAX, CHANGES_LIMIT_DEFAULT)),
});

export const TaskChanges = t.Object(
  {
    tasks: t.Array(Task, { description: "Tasks created or changed after `since`, each once, in its current state." }),
    deleted: t.Array(t.String({ format: "uuid" }), { description: "Ids of the tasks deleted after `since`." }),
    cursor: t.String({ description: "Opaque; pass it as `since` next time." }),
    has_more: t.Boolean({ description: "true: ask again at once with `cursor`." }),
  },
  {
    examples: [
      {
        tasks: [],
        deleted: ["6e38eb30-9039-4a7c-b64e-bca990ef7571"],
        cursor: "MTIuNDIuNDIuQWJDZEVmR2hJaktM",
        has_more: false,
      },
    ],
  },
);
