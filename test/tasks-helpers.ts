// What the tasks tests share: a task made through the API, and a fingerprint of the database to
// prove a refused request wrote nothing.
import { expect } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../src/db/client.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { queryRows, send, type TestApp } from "./helpers.ts";

/** Creates a task through the API and returns it. */
export async function createTask(
  app: TestApp["app"],
  token: string,
  fields: Record<string, unknown> = {},
): Promise<Task> {
  const answer = await send<Task>(app, {
    method: "POST",
    path: "/api/tasks",
    token,
    body: { title: "a task", ...fields },
  });
  expect(answer.status).toBe(201);
  return answer.body;
}

/** A digest of every row of every table, computed in the database. */
export async function fingerprint(db: Database): Promise<string> {
  const [row] = await queryRows<{ digest: string }>(
    db,
    sql`select (select md5(coalesce(string_agg(t::text, ',' order by t.id), '')) from tasks t)
        || (select md5(coalesce(string_agg(u::text, ',' order by u.id), '')) from users u) as digest`,
  );
  return row!.digest;
}

/** Runs `act` and checks that the database is the same afterwards; returns its answer. */
export async function unchanged<T>(db: Database, act: () => Promise<T>): Promise<T> {
  const before = await fingerprint(db);
  const answer = await act();
  expect(await fingerprint(db)).toBe(before);
  return answer;
}

export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
