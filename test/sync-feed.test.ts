// The change feed of the contract (GET /api/tasks/changes, both shapes): a first sync, pages that
// follow cursors, changes and deletions after a cursor, cursors refused (400) or expired (410),
// tombstones pruned after 30 days. The concurrent-commit guarantee is test/sync-feed-race.test.ts.
import { describe, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import { sql } from "drizzle-orm";
import type { App } from "../src/app.ts";
import { currentCursor, pruneTombstones, readChanges } from "../src/modules/feed/service.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, send, testBinary, tokenFor, useTestApp } from "./helpers.ts";
import { createTask, unchanged } from "./tasks-helpers.ts";

const ctx = useTestApp();

interface Changes {
  tasks: Task[];
  deleted: string[];
  cursor: string;
  has_more: boolean;
}

async function changes(token: string, query = "", base = "/api/tasks") {
  const answer = await send<Changes>(ctx.app, { path: `${base}/changes${query}`, token });
  expect(answer.status).toBe(200);
  return answer.body;
}

/** A client's copy kept by following cursors from a first sync; the cursor it ends at. */
async function follow(token: string, copy: Map<string, Task>, since?: string, limit = 2): Promise<string> {
  let cursor = since;
  for (;;) {
    const page = await changes(token, `?limit=${limit}${cursor ? `&since=${cursor}` : ""}`);
    for (const task of page.tasks) copy.set(task.id, task);
    for (const id of page.deleted) copy.delete(id);
    cursor = page.cursor;
    if (!page.has_more) return cursor;
  }
}

async function serverTasks(token: string): Promise<Map<string, Task>> {
  const answer = await send<Task[]>(ctx.app, { path: "/api/tasks?limit=500", token });
  return new Map(answer.body.map((task) => [task.id, task]));
}

const patch = (token: string, id: string, body: unknown) =>
  send<Task>(ctx.app, { method: "PATCH", path: `/api/tasks/${id}`, token, body });
const remove = (token: string, id: string) => send(ctx.app, { method: "DELETE", path: `/api/tasks/${id}`, token });

describe(`GET /api/tasks/changes (${driver})`, () => {
  test("a first sync lists the current tasks, no deletions, in pages that end with has_more false", async () => {
    const token = await tokenFor("first-sync");
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await createTask(ctx.app, token, { title: `task ${i}` }));
    await remove(token, made[4]!.id);
    const first = await changes(token, "?limit=2");
    expect(first.tasks.map((task) => task.title)).toEqual(["task 0", "task 1"]);
    expect(first.deleted).toEqual([]);
    expect(first.has_more).toBe(true);
    const copy = new Map<string, Task>();
    await follow(token, copy);
    expect(copy).toEqual(await serverTasks(token));
    expect(copy.size).toBe(4);
  });

  test("after a cursor: each changed task once in its current state, the deleted ids, nothing else", async () => {
    const token = await tokenFor("after-cursor");
    const [a, b, c] = [
      await createTask(ctx.app, token, { title: "a" }),
      await createTask(ctx.app, token, { title: "b" }),
      await createTask(ctx.app, token, { title: "c" }),
    ];
    const { cursor } = await changes(token);
    await patch(token, a!.id, { title: "a2" });
    await patch(token, a!.id, { title: "a3" });
    await remove(token, b!.id);
    const d = await createTask(ctx.app, token, { title: "d" });
    const page = await changes(token, `?since=${cursor}`);
    expect(page.tasks).toEqual([
      (await send<Task>(ctx.app, { path: `/api/tasks/${a!.id}`, token })).body,
      (await send<Task>(ctx.app, { path: `/api/tasks/${d.id}`, token })).body,
    ]);
    expect(page.tasks[0]!.title).toBe("a3");
    expect(page.deleted).toEqual([b!.id]);
    expect(page.has_more).toBe(false);
    expect(page.tasks.map((task) => task.id)).not.toContain(c!.id);
  });

  test("no change since the cursor: empty lists and the same cursor again", async () => {
    const token = await tokenFor("quiet");
    await createTask(ctx.app, token);
    const { cursor } = await changes(token);
    const again = await changes(token, `?since=${cursor}`);
    expect(again).toEqual({ tasks: [], deleted: [], cursor, has_more: false });
  });

  test("/api/{user_id}/tasks/changes is the same feed; another user's id there is 403", async () => {
    const token = await tokenFor("shaped");
    await createTask(ctx.app, token, { title: "shaped" });
    expect(await changes(token, "", "/api/shaped/tasks")).toEqual(await changes(token));
    const other = await send(ctx.app, { path: "/api/someone/tasks/changes", token });
    expect([other.status, other.body]).toEqual([403, { detail: "Not authorized to access this user's tasks" }]);
  });

  test("no token: 401 before anything else", async () => {
    const answer = await send(ctx.app, { path: "/api/tasks/changes?since=garbage&limit=0" });
    expect([answer.status, answer.body]).toEqual([401, { detail: "Missing authentication token" }]);
  });

  test("a foreign, forged or garbage cursor is 400 Invalid cursor, and writes nothing", async () => {
    const mine = await tokenFor("cursor-owner");
    const theirs = await tokenFor("cursor-thief");
    await createTask(ctx.app, mine);
    await createTask(ctx.app, theirs);
    const { cursor } = await changes(mine);
    const [generation, head, , tag] = Buffer.from(cursor, "base64url").toString().split(".");
    const forged = (text: string) => Buffer.from(text).toString("base64url");
    const refused: [string, string][] = [
      [theirs, cursor], // issued to cursor-owner, sent by cursor-thief
      [mine, "garbage"],
      [mine, `${cursor}x`],
      [mine, cursor.slice(0, -2)],
      [mine, forged(`${generation}.${Number(head) + 5}.${Number(head) + 5}.${tag}`)], // a number never issued
      [mine, forged(`${generation}.-1.0.${tag}`)],
      [mine, ""], // an empty since names no cursor either
    ];
    for (const [token, since] of refused) {
      const answer = await unchanged(ctx.db, () =>
        send(ctx.app, { path: `/api/tasks/changes?since=${encodeURIComponent(since)}`, token }),
      );
      expect([since, answer.status, answer.body]).toEqual([since, 400, { detail: "Invalid cursor" }]);
    }
    expect((await changes(mine, `?since=${cursor}`)).tasks).toEqual([]);
  });

  test("cursors and list ETags reveal no counter shared by users: users made one after another carry unrelated numbers", async () => {
    const watcher = await tokenFor(`watcher-${crypto.randomUUID()}`);
    await createTask(ctx.app, watcher);
    const watched = async () => [
      (await changes(watcher)).cursor,
      (await send(ctx.app, { path: "/api/tasks", token: watcher })).headers.get("etag"),
    ];
    const before = await watched();
    // Each new user's cursor carries its row's generation first (the test reads the encoding; a
    // client must not). Made by a sequence, they rose with every user written in between.
    const generations: number[] = [];
    for (let i = 0; i < 12; i++) {
      const token = await tokenFor(`signup-${i}-${crypto.randomUUID()}`);
      await createTask(ctx.app, token);
      const { cursor } = await changes(token);
      const generation = Number(Buffer.from(cursor, "base64url").toString().split(".")[0]);
      const etag = (await send(ctx.app, { path: "/api/tasks", token })).headers.get("etag")!;
      // The list's ETag carries the same, and nothing else but the user's own change count.
      expect(etag).toStartWith(`"L${generation}.1.`);
      generations.push(generation);
    }
    expect(new Set(generations).size).toBe(12);
    // 12 random numbers come out in rising order once in 12! (4.8e8) runs.
    expect(generations).not.toEqual([...generations].sort((a, b) => a - b));
    // Others' writes move nothing of this user's.
    expect(await watched()).toEqual(before);
  });

  test("limit outside 1–1000 is a 400 naming it", async () => {
    const token = await tokenFor("limits");
    for (const limit of ["0", "1001", "x"]) {
      const answer = await send<{ errors: { field: string }[] }>(ctx.app, {
        path: `/api/tasks/changes?limit=${limit}`,
        token,
      });
      expect(answer.status).toBe(400);
      expect(answer.body.errors.map((error) => error.field)).toEqual(["limit"]);
    }
  });

  test("a user deleted and made again: an old cursor is 410, a first sync starts over", async () => {
    const token = await tokenFor("reborn");
    await createTask(ctx.app, token, { title: "before" });
    const { cursor } = await changes(token);
    await ctx.db.execute(sql`delete from users where id = 'reborn'`);
    await createTask(ctx.app, token, { title: "after" });
    const expired = await send(ctx.app, { path: `/api/tasks/changes?since=${cursor}`, token });
    expect([expired.status, expired.body]).toEqual([410, { detail: "Cursor has expired; sync again without since" }]);
    expect((await changes(token)).tasks.map((task) => task.title)).toEqual(["after"]);
  });

  test("deletions older than 30 days are pruned; a cursor from before them is 410, a later one still works", async () => {
    const token = await tokenFor("pruned");
    const old = await createTask(ctx.app, token, { title: "old" });
    const { cursor: beforeDeletion } = await changes(token);
    await remove(token, old.id);
    const { cursor: afterDeletion } = await changes(token, `?since=${beforeDeletion}`);
    const kept = await createTask(ctx.app, token, { title: "kept" });
    await remove(token, kept.id);
    await ctx.db.execute(sql`update task_tombstones set deleted_at = now() - interval '31 days'
      where user_id = 'pruned' and task_id = ${old.id}`);
    // Other users' old tombstones may be pruned too; ours is one of them.
    expect(await pruneTombstones(ctx.db, 1000)).toBeGreaterThanOrEqual(1);
    const expired = await send(ctx.app, { path: `/api/tasks/changes?since=${beforeDeletion}`, token });
    expect([expired.status, expired.body]).toEqual([410, { detail: "Cursor has expired; sync again without since" }]);
    const later = await changes(token, `?since=${afterDeletion}`);
    expect(later.deleted).toEqual([kept.id]);
    // The young tombstone stays.
    expect(await pruneTombstones(ctx.db, 1000)).toBe(0);
  });

  test("a first sync paged across a pruning goes on: its pages need no deletions before it", async () => {
    const token = await tokenFor("paging-prune");
    for (let i = 0; i < 3; i++) await createTask(ctx.app, token, { title: `p${i}` });
    const gone = await createTask(ctx.app, token);
    await remove(token, gone.id);
    const first = await changes(token, "?limit=1");
    await ctx.db.execute(
      sql`update task_tombstones set deleted_at = now() - interval '31 days' where user_id = 'paging-prune'`,
    );
    await pruneTombstones(ctx.db, 1000);
    const copy = new Map(first.tasks.map((task) => [task.id, task]));
    await follow(token, copy, first.cursor, 1);
    expect(copy).toEqual(await serverTasks(token));
  });

  test("readChanges gives each change its own cursor, from which the feed resumes after it", async () => {
    const token = await tokenFor("per-change");
    await createTask(ctx.app, token, { title: "one" });
    const two = await createTask(ctx.app, token, { title: "two" });
    await remove(token, two.id);
    const start = await readChanges(ctx.db, "per-change", undefined, 10);
    const [one] = start.changes;
    expect(start.changes.length).toBe(1);
    const afterOne = await readChanges(ctx.db, "per-change", one!.cursor, 10);
    expect(afterOne.changes).toEqual([]);
    expect(afterOne.cursor).toBe(start.cursor);
  });

  test("currentCursor is the latest change's cursor: the feed after it holds only later changes", async () => {
    const token = await tokenFor("now");
    await createTask(ctx.app, token, { title: "earlier" });
    const now = await currentCursor(ctx.db, "now");
    expect(now).toBe((await changes(token)).cursor);
    const later = await createTask(ctx.app, token, { title: "later" });
    expect((await changes(token, `?since=${now}`)).tasks).toEqual([later]);
  });

  test("every write of a user moves updated_at past the user's previous write, so sort=updated is updated_at order", async () => {
    const token = await tokenFor("clock");
    const made = [];
    for (let i = 0; i < 6; i++) made.push(await createTask(ctx.app, token, { title: `c${i}` }));
    const writes = await Promise.all(
      made.map((task, i) =>
        i % 2 === 0
          ? send<Task>(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token })
          : send<Task>(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}`, token, body: { title: `d${i}` } }),
      ),
    );
    const stamps = writes.map((answer) => answer.body.updated_at);
    expect(new Set(stamps).size).toBe(6);
    const listed = await send<Task[]>(ctx.app, { path: "/api/tasks?sort=updated", token });
    const byStamp = [...listed.body].sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    expect(listed.body.map((task) => task.id)).toEqual(byStamp.map((task) => task.id));
    expect(listed.body.every((task) => task.updated_at >= task.created_at)).toBe(true);
  });

  // Eden's types come from the route schemas: a typed page, `since` and `limit` typed too.
  test.skipIf(!!testBinary)(
    "Eden: the feed is typed (skipped against the binary: treaty needs the app object)",
    async () => {
      const token = await tokenFor("eden-feed");
      await createTask(ctx.app, token, { title: "typed" });
      const api = treaty(ctx.app as App, { parseDate: false, headers: { authorization: `Bearer ${token}` } });
      const { data, error } = await api.api.tasks.changes.get({ query: { limit: 10 } });
      expect(error).toBeNull();
      const titles: string[] = data!.tasks.map((task) => task.title);
      expect(titles).toEqual(["typed"]);
      const next = await api.api.tasks.changes.get({ query: { since: data!.cursor } });
      expect(next.data).toEqual({ tasks: [], deleted: [], cursor: data!.cursor, has_more: false });
    },
  );
});
