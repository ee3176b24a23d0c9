// The task routes of docs/api.md, written once; src/modules/user-scope.ts mounts them in both
// shapes of the contract. What each route takes and answers is in contracts.ts.
import { Elysia } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { requestDatabase } from "../../db/held-transaction.ts";
import { taskContracts as contract } from "./contracts.ts";
import { listEtag, noneMatch, taggedVersions, taskEtag } from "./etag.ts";
import type { TaskUpdate } from "./model.ts";
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

interface Preconditions {
  "if-match"?: string;
  "if-none-match"?: string;
}

/**
 * What a write's preconditions allow it to overwrite: undefined for any version (no If-Match, or
 * `*`), else the versions If-Match names. `If-None-Match: *` asks that the task not exist (RFC 9110
 * §13.1.2), and every write here is to a task that exists: it allows no version, so the task's
 * 404 / 403 / 412 come as for an If-Match that names none. Other If-None-Match values on a write
 * are not read.
 */
function expected(headers: Preconditions): Expected {
  if (headers["if-none-match"]?.trim() === "*") return [];
  const header = headers["if-match"];
  if (header === undefined) return undefined;
  const versions = taggedVersions(header);
  return versions === "*" ? undefined : versions;
}

export function taskRoutes(auth: ReturnType<typeof authentication>, db: Database) {
  // PUT and PATCH write the same way; each route hands its context's parts to this. Writes go
  // through requestDatabase: with an Idempotency-Key, into the transaction that keeps the answer.
  const update = async (request: Request, userId: string, id: string, body: TaskUpdate, headers: Preconditions) => {
    const { task, version } = await updateTask(requestDatabase(request, db), userId, id, body, expected(headers));
    return { task, etag: taskEtag(version) };
  };
  return new Elysia({ detail: { tags: ["Tasks"] } })
    .use(auth)
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
      contract.list,
    )
    .post(
      "",
      async ({ request, user, body, set, status }) => {
        const { task, version } = await createTask(requestDatabase(request, db), user, body);
        set.headers.location = `/api/tasks/${task.id}`;
        set.headers.etag = taskEtag(version);
        return status(201, task);
      },
      contract.create,
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
      contract.get,
    )
    .put(
      "/:id",
      async ({ request, user, params, body, headers, set }) => {
        const { task, etag } = await update(request, user.id, params.id, body, headers);
        set.headers.etag = etag;
        return task;
      },
      contract.put,
    )
    .patch(
      "/:id",
      async ({ request, user, params, body, headers, set }) => {
        const { task, etag } = await update(request, user.id, params.id, body, headers);
        set.headers.etag = etag;
        return task;
      },
      contract.patch,
    )
    .delete(
      "/:id",
      async ({ request, user, params, headers, status }) => {
        await deleteTask(requestDatabase(request, db), user.id, params.id, expected(headers));
        return status(204, undefined);
      },
      contract.remove,
    )
    .patch(
      "/:id/complete",
      async ({ request, user, params, body, headers, set }) => {
        const { task, version } = await completeTask(
          requestDatabase(request, db),
          user.id,
          params.id,
          body?.completed,
          expected(headers),
        );
        set.headers.etag = taskEtag(version);
        return task;
      },
      contract.complete,
    );
}
