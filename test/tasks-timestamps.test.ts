// Timestamps leave the service as toISOString()'s text (milliseconds, UTC, "Z") whatever the driver
// hands over: Bun.SQL a Date (or ±Infinity for an infinite timestamp), PGlite PostgreSQL's text in
// its session's zone, which the service starts as UTC (db/client.ts). Rows written around the
// service reach the corners the API cannot.
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, recountTasks, send, tokenFor, useTestApp } from "./helpers.ts";

const ctx = useTestApp();
let token: string;

// Due dates as a hand-written INSERT gives them, and the text each must come back as.
const dueDates: [stored: string, answered: string | null][] = [
  ["2026-12-01 17:00:00.5+02", "2026-12-01T15:00:00.500Z"],
  ["2026-12-01 00:00:00+00", "2026-12-01T00:00:00.000Z"],
  ["2026-12-01 00:00:00.05+00", "2026-12-01T00:00:00.050Z"],
  ["2026-06-30 23:59:59.999-04:30", "2026-07-01T04:29:59.999Z"],
  ["1000-01-01 00:00:00+00", "1000-01-01T00:00:00.000Z"],
  ["9999-12-31 23:59:59.999+00", "9999-12-31T23:59:59.999Z"],
  // No instant: to_char gave these no text, and neither does the service (not a 500).
  ["infinity", null],
  ["-infinity", null],
];

beforeAll(async () => {
  token = await tokenFor("clock");
  await send(ctx.app, { path: "/api/tasks", token });
  for (const [i, [due]] of dueDates.entries()) {
    await ctx.db.execute(sql`insert into tasks (user_id, title, due_date, created_at, updated_at, version)
      values ('clock', ${`t${i}`}, ${due}::timestamptz, ${`2026-11-01 12:0${i}:00.${i}+00`}::timestamptz,
        '2026-11-02 08:00:00.25+01', ${i + 1})`);
  }
  await ctx.db.execute(sql`update users set change_seq = ${dueDates.length} where id = 'clock'`);
  await recountTasks(ctx.db);
}, 60_000);

const expected = dueDates.map(([, answered], i) => ({
  title: `t${i}`,
  due_date: answered,
  created_at: `2026-11-01T12:0${i}:00.${i}00Z`,
  updated_at: "2026-11-02T07:00:00.250Z",
}));
const timestamps = ({ title, due_date, created_at, updated_at }: Task) => ({ title, due_date, created_at, updated_at });

describe(`timestamps as the contract's text (${driver})`, () => {
  test("in a list, a task, and the change feed", async () => {
    const list = await send<Task[]>(ctx.app, { path: "/api/tasks?sort=created&order=asc", token });
    expect(list.status).toBe(200);
    expect(list.body.map(timestamps)).toEqual(expected);
    for (const task of list.body) {
      const one = await send<Task>(ctx.app, { path: `/api/tasks/${task.id}`, token });
      expect(one.status).toBe(200);
      expect(one.body).toEqual(task);
    }
    const feed = await send<{ tasks: Task[] }>(ctx.app, { path: "/api/tasks/changes", token });
    expect(feed.status).toBe(200);
    expect(feed.body.tasks.map(timestamps)).toEqual(expected);
  });
});
