// GET .../tasks/changes: what changed in the caller's tasks after a cursor, for a device that syncs
// (docs/api.md, docs/sync.md). service.ts reads the feed; live events read it too.
import { Elysia } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { ErrorBody, ValidationErrorBody } from "../../http/error-body.ts";
import { CHANGES_LIMIT_DEFAULT } from "../../rules.ts";
import type { Task } from "../tasks/model.ts";
import { ChangesQuery, TaskChanges } from "./model.ts";
import { readChanges } from "./service.ts";

export function feedRoutes(auth: ReturnType<typeof authentication>, db: Database) {
  return new Elysia({ detail: { tags: ["Tasks"] } }).use(auth).get(
    "/changes",
    async ({ user, query }) => {
      const page = await readChanges(db, user.id, query.since, query.limit ?? CHANGES_LIMIT_DEFAULT);
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
      response: {
        200: TaskChanges,
        400: ValidationErrorBody,
        410: ErrorBody,
        401: ErrorBody,
        403: ErrorBody,
        404: ErrorBody,
        503: ErrorBody,
      },
      detail: {
        summary: "What changed since a cursor (sync)",
        description:
          "Without `since`: the caller's current tasks, `deleted` empty. With it: every task created or changed after that cursor, once, in its current state, and the ids of the tasks deleted after it. `has_more: true`: ask again with `cursor`. Following cursors from a first sync ends with exactly the server's tasks, also while other writes commit (docs/sync.md). A `since` this service did not issue to the caller: 400; one older than the kept deletions (at least 30 days): 410.",
      },
    },
  );
}
