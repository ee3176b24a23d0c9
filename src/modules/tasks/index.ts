// The task routes of docs/api.md, written once; src/modules/user-scope.ts mounts them in both
// shapes of the contract. What each route takes and answers is in contracts.ts.
import { Elysia } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
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

/** What an If-Match allows: undefined for no header or `*` (any current version), else the versions it names. */
function expected(header: string | undefined): Expected {
  if (header === undefined) return undefined;
  const versions = taggedVersions(header);
  return versions === "*" ? undefined : versions;
}

export function taskRoutes(auth: ReturnType<typeof authentication>, db: Database) {
  // PUT and PATCH write the same way; each route hands its context's parts to this.
  const update = async (userId: string, id: string, body: TaskUpdate, ifMatch: string | undefined) => {
    const { task, version } = await updateTask(db, userId, id, body, expected(ifMatch));
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
      async ({ user, body, set, status }) => {
        const { task, version } = await createTask(db, user, body);
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
      async ({ user, params, body, headers, set }) => {
        const { task, etag } = await update(user.id, params.id, body, headers["if-match"]);
        set.headers.etag = etag;
        return task;
      },
      contract.put,
    )
    .patch(
      "/:id",
      async ({ user, params, body, headers, set }) => {
        const { task, etag } = await update(user.id, params.id, body, headers["if-match"]);
        set.headers.etag = etag;
        return task;
      },
      contract.patch,
    )
    .delete(
      "/:id",
      async ({ user, params, headers, status }) => {
        await deleteTask(db, user.id, params.id, expected(headers["if-match"]));
        return status(204, undefined);
      },
      contract.remove,
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
      contract.complete,
    );
}
