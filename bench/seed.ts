// The bench's data: one migrated, seeded template database, copied per server so every server
// starts from the same rows (writes of one run never change what the next one reads).
import { SQL } from "bun";
import { mintToken } from "../src/auth/dev-token.ts";
import { migratePostgres } from "../src/db/migrate.ts";
import { RECOUNT_SQL } from "../src/modules/tasks/counts.ts";

const USERS = 200;
const TASKS_PER_USER = 50;
const BIG_USER_TASKS = 10_000;

interface BenchUser {
  id: string;
  token: string;
  taskIds: string[];
}

export interface BenchData {
  users: BenchUser[];
  /** The user with BIG_USER_TASKS tasks. */
  big: BenchUser;
}

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** Creates an empty database `name`; its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new SQL({ url: serverUrl, max: 1 });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.close();
  }
  return databaseUrl(serverUrl, name);
}

/** Creates `name` and migrates it with the service's own migrations; its URL. */
export async function createMigratedDatabase(serverUrl: string, name: string): Promise<string> {
  const url = await createDatabase(serverUrl, name);
  await migratePostgres(url);
  return url;
}

/** Creates `name`, migrates it with the service's own migrations and fills it. */
export async function seedTemplate(serverUrl: string, name: string, secret: string): Promise<BenchData> {
  const url = await createMigratedDatabase(serverUrl, name);
  const db = new SQL({ url, max: 1 });
  try {
    // Ids look like Better Auth's: opaque 32-character strings.
    await db.unsafe(`
      insert into users (id, email, name)
      select substr(md5('bench-user-' || g), 1, 32), 'user' || g || '@bench.test', 'Bench User ' || g
      from generate_series(0, ${USERS}) g`);
    const bigId = (await db`select substr(md5('bench-user-0'), 1, 32) as id`)[0].id as string;
    await insertTasks(db, `u.id <> '${bigId}'`, TASKS_PER_USER);
    await insertTasks(db, `u.id = '${bigId}'`, BIG_USER_TASKS);
    await numberChanges(db);
    // numberChanges rewrote every task: without a vacuum each copy keeps a dead version of every row
    // and two index entries per task, which --against's freshly filled database does not have.
    await db`vacuum analyze`;

    const rows: { user_id: string; ids: string[] }[] = await db`
      select user_id, array_agg(id::text order by created_at) as ids
      from tasks where user_id <> ${bigId} group by user_id order by user_id`;
    const token = (sub: string) => benchToken(sub, secret);
    const users = await Promise.all(
      rows.map(async (r) => ({ id: r.user_id, token: await token(r.user_id), taskIds: r.ids })),
    );
    return { users, big: { id: bigId, token: await token(bigId), taskIds: [] } };
  } finally {
    await db.close();
  }
}

/**
 * `count` tasks for each user matching `userFilter` (SQL over `users u`). Statuses, priorities (a
 * quarter without one), due dates (a fifth without one) and creation times vary with the task number.
 */
export async function insertTasks(db: SQL, userFilter: string, count: number): Promise<void> {
  await db.unsafe(`
    insert into tasks (user_id, title, description, completed, priority, due_date, created_at, updated_at)
    select u.id,
           'Task ' || n || ' of ' || u.name,
           case when n % 3 = 0 then 'Notes for task ' || n end,
           (n * 7) % 10 < 4,
           (array['low', 'medium', 'high'])[n % 4 + 1],
           case when n % 5 <> 0 then timestamptz '2026-01-01 09:00:00+00' + (n % 120) * interval '1 day' end,
           timestamptz '2025-06-01 00:00:00+00' + n * interval '1 minute',
           timestamptz '2025-06-01 00:00:00+00' + n * interval '1 minute'
    from users u cross join generate_series(1, ${count}) n
    where ${userFilter}`);
}

/**
 * Rows written around the service take change numbers as drizzle/0004_change_feed_backfill.sql
 * gives them, and their users' counts, so the data looks like the service wrote it (ETags, the
 * feed, sort=updated, X-Total-Count).
 */
export async function numberChanges(db: SQL): Promise<void> {
  await db.unsafe(RECOUNT_SQL);
  await db.unsafe(`
    update tasks set version = v.n from (select id, row_number()
      over (partition by user_id order by updated_at, created_at, id) as n from tasks) as v where tasks.id = v.id;
    update users set change_seq = c.n, changed_at = greatest(changed_at, c.at)
    from (select user_id, count(*) as n, max(updated_at) as at from tasks group by user_id) as c where users.id = c.user_id`);
}

/** An HS256 token for `sub`, signed with the bench's secret. */
export function benchToken(sub: string, secret: string): Promise<string> {
  return mintToken(secret, { sub, email: `${sub}@bench.test` }, "2h");
}

/** A copy of the template for one server; cheap because PostgreSQL copies files. */
export async function copyDatabase(serverUrl: string, template: string, name: string): Promise<string> {
  const admin = new SQL({ url: serverUrl, max: 1 });
  try {
    await admin.unsafe(`create database ${name} template ${template}`);
  } finally {
    await admin.close();
  }
  return databaseUrl(serverUrl, name);
}

export async function dropDatabases(serverUrl: string, names: string[]): Promise<void> {
  const admin = new SQL({ url: serverUrl, max: 1 });
  try {
    for (const name of names) await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.close();
  }
}

/** The data as a Lua chunk for wrk.lua: every wrk thread loads it with dofile(). */
export function luaData(data: BenchData): string {
  const user = (u: BenchUser) =>
    `{auth=${JSON.stringify(`Bearer ${u.token}`)},tasks={${u.taskIds.map((id) => `"${id}"`).join(",")}}}`;
  return `return {users={\n${data.users.map(user).join(",\n")}\n},big=${user(data.big)}}\n`;
}
