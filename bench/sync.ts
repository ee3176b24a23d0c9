// The sync scenarios of `bun run bench`: what a device that polls costs. `get304` revalidates one
// task (If-None-Match with its ETag), `list304` the list page of the `list` scenario, `feed` asks
// the change feed for what changed since its cursor when nothing did. The baseline has no ETags or
// feed, so these run on the service and the binary only, with no ratio: compare their µs/req with
// `get` and `list` in the same run (a 304 on a list must cost far less than the list).
import { join } from "node:path";
import { SQL } from "bun";
import { openPostgres } from "../src/db/client.ts";
import { currentCursor } from "../src/modules/feed/service.ts";
import { listEtag } from "../src/modules/tasks/etag.ts";
import { listKey, listState } from "../src/modules/tasks/service.ts";
import type { BenchData } from "./seed.ts";

export const SYNC_SCENARIOS = ["get304", "list304", "feed"] as const;
export type SyncScenario = (typeof SYNC_SCENARIOS)[number];
export const isSyncScenario = (scenario: string): scenario is SyncScenario =>
  (SYNC_SCENARIOS as readonly string[]).includes(scenario);

/** The wrk script of the sync scenarios. */
export const SYNC_SCRIPT = join(import.meta.dir, "sync.lua");

// The `list` scenario's page, as the service decodes its query.
const LIST_QUERY = { status: "pending", limit: 50 } as const;

interface SyncUser {
  auth: string;
  list: string;
  cursor: string;
  tasks: { id: string; etag: string }[];
}

/**
 * The conditional headers and cursors every user would hold after its last sync, read from the
 * database of a server that has run the smoke test (so its writes are included), as a Lua chunk
 * for sync.lua. Every server's database is a copy of one template and took the same smoke-test
 * writes, so the values hold for each of them.
 */
export async function syncData(url: string, data: BenchData): Promise<SyncUser[]> {
  const database = openPostgres(url, 4);
  const sql = new SQL({ url, max: 1 });
  try {
    const versions: { id: string; version: string }[] = await sql`select id::text, version::text from tasks`;
    const etags = new Map(versions.map((row) => [row.id, `"${row.version}"`]));
    return await Promise.all(
      data.users.map(async (user) => {
        const list = listEtag(await listState(database.db, user.id), listKey(LIST_QUERY));
        const cursor = await currentCursor(database.db, user.id);
        const tasks = user.taskIds.map((id) => ({ id, etag: etags.get(id)! }));
        return { auth: `Bearer ${user.token}`, list, cursor, tasks };
      }),
    );
  } finally {
    await sql.close();
    await database.close();
  }
}

/** The data as a Lua chunk for sync.lua. */
export function syncLua(users: SyncUser[]): string {
  const q = JSON.stringify;
  const user = (u: SyncUser) =>
    `{auth=${q(u.auth)},list=${q(u.list)},cursor=${q(u.cursor)},tasks={${u.tasks.map((t) => `{id=${q(t.id)},etag=${q(t.etag)}}`).join(",")}}}`;
  return `return {users={\n${users.map(user).join(",\n")}\n}}\n`;
}

/** One request of each sync scenario answers as it must: 304, 304, an empty feed page. */
export async function checkSync(base: string, [user]: SyncUser[]): Promise<void> {
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers: { authorization: user!.auth, ...headers } });
  const task = user!.tasks[0]!;
  const one = await get(`/api/tasks/${task.id}`, { "if-none-match": task.etag });
  const list = await get("/api/tasks?status=pending&limit=50", { "if-none-match": user!.list });
  const feed = await get(`/api/tasks/changes?since=${user!.cursor}`);
  const page = (await feed.json()) as { tasks: unknown[]; deleted: unknown[] };
  if (one.status !== 304 || list.status !== 304 || feed.status !== 200 || page.tasks.length + page.deleted.length > 0)
    throw new Error(`sync scenarios answered ${one.status}, ${list.status}, ${feed.status} ${JSON.stringify(page)}`);
}
