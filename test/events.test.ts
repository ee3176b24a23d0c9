// GET /api/tasks/events (both shapes): changes arrive live as Server-Sent Events whose ids are
// change-feed cursors; a reconnect with Last-Event-ID (or ?since=) loses and repeats nothing, also
// when the listening connection is killed mid-burst; expiry, the per-user limit and the request log.
import { describe, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import { sql } from "drizzle-orm";
import { loadConfig } from "../src/config.ts";
import { LISTENER_APPLICATION_NAME } from "../src/db/notifications.ts";
import { users } from "../src/db/schema.ts";
import { createLogger } from "../src/http/log.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { applied, type LiveEvent, openStream, until } from "./events-helpers.ts";
import { configProblems, driver, send, tokenFor, useTestApp } from "./helpers.ts";

const lines: string[] = [];
const ctx = useTestApp({ log: createLogger("debug", (line) => lines.push(line)) });

const open = (path: string, token?: string, headers?: Record<string, string>) =>
  openStream((request) => ctx.app.handle(request), `http://localhost${path}`, { token, headers });

async function create(token: string, title: string): Promise<Task> {
  const answer = await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title } });
  expect(answer.status).toBe(201);
  return answer.body;
}

async function currentTasks(token: string): Promise<Map<string, Task>> {
  const answer = await send<Task[]>(ctx.app, { path: "/api/tasks?limit=500", token });
  return new Map(answer.body.map((task) => [task.id, task]));
}

/** The cursor a first sync ends at: the id of the user's latest change. */
async function feedHead(token: string): Promise<string> {
  return (await send<{ cursor: string }>(ctx.app, { path: "/api/tasks/changes?limit=1000", token })).body.cursor;
}

/** `count` writes (creates, updates, toggles, deletes), `parallel` at a time, as one user. */
async function burst(token: string, count: number, parallel = 4, during?: (done: number) => Promise<void>) {
  const ids: string[] = [];
  let done = 0;
  const one = async (i: number) => {
    const id = ids[i % Math.max(ids.length, 1)];
    if (i % 5 === 0 || !id) ids.push((await create(token, `burst ${i}`)).id);
    else if (i % 5 === 1)
      await send(ctx.app, { method: "PATCH", path: `/api/tasks/${id}`, token, body: { title: `b${i}` } });
    else if (i % 5 === 2) await send(ctx.app, { method: "PATCH", path: `/api/tasks/${id}/complete`, token });
    else if (i % 5 === 3 && ids.length > 1) {
      ids.splice(ids.indexOf(id), 1);
      await send(ctx.app, { method: "DELETE", path: `/api/tasks/${id}`, token });
    } else ids.push((await create(token, `burst ${i}`)).id);
    done += 1;
    await during?.(done);
  };
  for (let i = 0; i < count; i += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, (_, k) => one(i + k)));
    // Notifications go out after each answer, and on PGlite the stream's feed reads queue behind
    // the writes on its one connection: a pause per round lets streams keep up mid-burst.
    await Bun.sleep(5);
  }
}

/** No event id twice, and the events applied to `start` give the user's tasks now. */
async function expectComplete(token: string, events: LiveEvent[], start: Map<string, Task>) {
  const ids = events.map((e) => e.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(applied(events, [...start.values()])).toEqual(await currentTasks(token));
}

describe(`live events (${driver})`, () => {
  test("a create, update, toggle and delete each reach an open stream within 1 s; ids are feed cursors", async () => {
    const token = await tokenFor("events-alice");
    const stream = await open("/api/tasks/events", token);
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toStartWith("text/event-stream");
    expect(stream.headers.get("cache-control")).toBe("private, no-cache");

    const task = await create(token, "live");
    expect((await stream.waitFor(1, 1000))[0]).toEqual({ id: await feedHead(token), event: "task", data: task });
    const renamed = await send<Task>(ctx.app, {
      method: "PATCH",
      path: `/api/tasks/${task.id}`,
      token,
      body: { title: "renamed" },
    });
    expect((await stream.waitFor(2, 1000))[1]).toMatchObject({ event: "task", data: renamed.body });
    const done = await send<Task>(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token });
    expect((await stream.waitFor(3, 1000))[2]).toMatchObject({ event: "task", data: done.body });
    expect((await send(ctx.app, { method: "DELETE", path: `/api/tasks/${task.id}`, token })).status).toBe(204);
    expect((await stream.waitFor(4, 1000))[3]).toEqual({
      id: await feedHead(token),
      event: "delete",
      data: { id: task.id },
    });
    expect(stream.comments).toContain("connected");
    stream.close();
  });

  test("the /api/{user_id} shape streams the same; another user's path is 403, no token 401", async () => {
    const token = await tokenFor("events-hack");
    const stream = await open("/api/events-hack/tasks/events", token);
    expect(stream.status).toBe(200);
    const task = await create(token, "hackathon");
    expect((await stream.waitFor(1, 1000))[0]).toMatchObject({ event: "task", data: task });
    stream.close();

    const foreign = await open("/api/someone-else/tasks/events", token);
    expect(foreign.status).toBe(403);
    expect(foreign.body).toEqual({ detail: "Not authorized to access this user's tasks" });
    const anonymous = await open("/api/tasks/events");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
    expect(anonymous.body).toEqual({ detail: "Missing authentication token" });
  });

  test("a change no process published (its writer died after commit) arrives at the next keep-alive, within 10 s", async () => {
    const token = await tokenFor("events-unpublished");
    const task = await create(token, "published");
    const stream = await open("/api/tasks/events", token);
    await Bun.sleep(200); // the create's own notification has come and gone
    // A write numbered as the service numbers it, made without the route that publishes it afterwards.
    await ctx.db.execute(sql`with seq as (
      update users set change_seq = change_seq + 1 where id = 'events-unpublished' returning change_seq)
      update tasks set title = 'unpublished', version = (select change_seq from seq) where id = ${task.id}`);
    const [event] = await stream.waitFor(1, 12_000);
    expect(event).toMatchObject({ event: "task", data: { id: task.id, title: "unpublished" } });
    stream.close();
  }, 20_000);

  test("a stream carries only its own user's changes", async () => {
    const [ann, ben] = await Promise.all([tokenFor("events-ann"), tokenFor("events-ben")]);
    const annStream = await open("/api/tasks/events", ann);
    const benStream = await open("/api/tasks/events", ben);
    await create(ben, "ben's");
    await benStream.waitFor(1, 1000);
    const own = await create(ann, "ann's");
    expect((await annStream.waitFor(1, 1000)).map((e) => e.data)).toEqual([own]);
    annStream.close();
    benStream.close();
  });

  for (const resume of ["Last-Event-ID", "?since="] as const) {
    test(`reconnecting with ${resume} during a burst of writes loses and repeats nothing`, async () => {
      const token = await tokenFor(`events-resume-${resume}`);
      for (let i = 0; i < 3; i++) await create(token, `before ${i}`);
      const start = await currentTasks(token);
      const first = await open("/api/tasks/events", token);
      let second: Awaited<ReturnType<typeof open>> | undefined;
      let received: LiveEvent[] = [];
      await burst(token, 80, 4, async () => {
        if (second || first.events.length < 15) return;
        received = [...first.events];
        first.close();
        const last = received.at(-1)!.id;
        second =
          resume === "Last-Event-ID"
            ? await open("/api/tasks/events", token, { "last-event-id": last })
            : await open(`/api/tasks/events?since=${encodeURIComponent(last)}`, token);
        expect(second.status).toBe(200);
      });
      const head = await feedHead(token);
      await until(
        () => second?.events.at(-1)?.id === head,
        5000,
        () => "the second stream to reach the head",
      );
      await expectComplete(token, [...received, ...second!.events], start);
      second!.close();
    }, 60_000);
  }

  test("a cursor this service did not issue is 400; one older than the user's history 410", async () => {
    const token = await tokenFor("events-cursor");
    const refusals: [string, Record<string, string>][] = [
      ["/api/tasks/events", { "last-event-id": "not-a-cursor" }],
      ["/api/tasks/events?since=not-a-cursor", {}],
    ];
    for (const [path, headers] of refusals) {
      const refused = await open(path, token, headers);
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({ detail: "Invalid cursor" });
    }
    const otherUsers = await feedHead(await tokenFor("events-someone"));
    expect((await open("/api/tasks/events", token, { "last-event-id": otherUsers })).body).toEqual({
      detail: "Invalid cursor",
    });

    await create(token, "soon erased");
    const old = await feedHead(token);
    // An erasure request deletes the user row; the next request makes it again, with a new history.
    await ctx.db.delete(users).where(sql`${users.id} = 'events-cursor'`);
    const expired = await open("/api/tasks/events", token, { "last-event-id": old });
    expect(expired.status).toBe(410);
    expect(expired.body).toEqual({ detail: "Cursor has expired; sync again without since" });
  });

  test("at most 10 open streams per user: the 11th is 429 with Retry-After; closing one makes room", async () => {
    const token = await tokenFor("events-many");
    const streams = await Promise.all(Array.from({ length: 10 }, () => open("/api/tasks/events", token)));
    expect(streams.map((s) => s.status)).toEqual(Array(10).fill(200));
    const refused = await open("/api/tasks/events", token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect(refused.body).toEqual({ detail: "Too many open event streams: at most 10 per user" });
    const other = await open("/api/tasks/events", await tokenFor("events-other"));
    expect(other.status).toBe(200);
    other.close();

    streams.pop()!.close();
    let again = await open("/api/tasks/events", token);
    for (let i = 0; again.status === 429 && i < 100; i++) {
      await Bun.sleep(20);
      again = await open("/api/tasks/events", token);
    }
    expect(again.status).toBe(200);
    // Every stream still works.
    const task = await create(token, "to all ten");
    for (const stream of [...streams, again]) expect((await stream.waitFor(1, 1000))[0]!.data).toEqual(task);
    for (const stream of [...streams, again]) stream.close();
  });

  test("the stream ends when the token expires; a token already past exp is 401", async () => {
    const token = await tokenFor("events-expiring", { exp: Math.floor(Date.now() / 1000) + 2 });
    const stream = await open("/api/tasks/events", token);
    expect(stream.status).toBe(200);
    const held = await stream.ended(8000);
    expect(held).toBeGreaterThan(500);

    // Still inside the verifier's clock tolerance, but the stream would end at once.
    const late = await open(
      "/api/tasks/events",
      await tokenFor("events-expiring", { exp: Math.floor(Date.now() / 1000) - 5 }),
    );
    expect(late.status).toBe(401);
    expect(late.body).toEqual({ detail: "Token has expired" });
  }, 15_000);

  test("the request log writes one line when a stream ends, with its duration and the events it sent", async () => {
    const token = await tokenFor("events-logged");
    const stream = await open("/api/tasks/events", token, { "x-request-id": "stream-log-1" });
    await create(token, "one");
    await create(token, "two");
    await stream.waitFor(2, 1000);
    await Bun.sleep(300);
    const mine = () =>
      lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.request_id === "stream-log-1");
    expect(mine()).toEqual([]); // nothing while it is open
    stream.close();
    await until(
      () => mine().length > 0,
      2000,
      () => "the stream's log line",
    );
    await Bun.sleep(50);
    expect(mine()).toHaveLength(1);
    expect(mine()[0]).toMatchObject({
      msg: "request",
      method: "GET",
      route: "/api/tasks/events",
      status: 200,
      user_id: "events-logged",
      events_sent: 2,
      end: "client",
    });
    expect(mine()[0]!.duration_ms).toBeGreaterThan(300);
  });

  test("Eden's treaty client reads the stream as typed events", async () => {
    const token = await tokenFor("events-eden");
    const api = treaty(ctx.app, { parseDate: false, headers: { authorization: `Bearer ${token}` } });
    const abort = new AbortController();
    const { data, status } = await api.api.tasks.events.get({ fetch: { signal: abort.signal } });
    expect(status).toBe(200);
    const task = await create(token, "through Eden");
    for await (const chunk of data!) {
      expect(chunk).toEqual({ id: await feedHead(token), event: "task", data: task });
      // Typed: the event name tells a task from a deletion.
      const title: string | undefined = chunk.event === "task" ? chunk.data.title : chunk.data.id;
      expect(title).toBe("through Eden");
      break;
    }
    abort.abort();
  });

  test("DATABASE_DIRECT_URL, where the listening session connects, is optional and must be PostgreSQL", () => {
    expect(loadConfig({}).databaseDirectUrl).toBeUndefined();
    const direct = "postgres://postgres@10.0.0.5:5432/todo";
    expect(
      loadConfig({ DATABASE_URL: "postgres://pooler:6432/todo", DATABASE_DIRECT_URL: direct }).databaseDirectUrl,
    ).toBe(direct);
    expect(configProblems({ DATABASE_DIRECT_URL: "memory://" })).toEqual([
      "DATABASE_DIRECT_URL=memory://: expected a URL starting with postgres:// or postgresql://",
    ]);
  });

  test("the OpenAPI document describes the route in both shapes, with its query, header and errors", async () => {
    const doc = (
      await send<{ paths: Record<string, { get: Record<string, unknown> }> }>(ctx.app, { path: "/docs/json" })
    ).body;
    for (const path of ["/api/tasks/events", "/api/{user_id}/tasks/events"]) {
      const operation = doc.paths[path]!.get as {
        summary: string;
        parameters: { name: string; in: string }[];
        responses: Record<string, unknown>;
      };
      expect(operation.summary).toContain("Server-Sent Events");
      expect(operation.parameters.map((p) => `${p.in} ${p.name}`)).toEqual(
        expect.arrayContaining(["query since", "header last-event-id"]),
      );
      expect(Object.keys(operation.responses).sort()).toEqual(["400", "401", "403", "410", "429", "503"]);
    }
  });

  // Only PostgreSQL has a listening connection that can drop; PGlite's listen is in-process.
  test.skipIf(driver !== "postgres")(
    "listener killed with pg_terminate_backend mid-burst: every stream still receives every change",
    async () => {
      const tokens = await Promise.all([tokenFor("events-kill-1"), tokenFor("events-kill-2")]);
      const starts = await Promise.all(tokens.map(currentTasks));
      const streams = await Promise.all(
        tokens.flatMap((token) => [open("/api/tasks/events", token), open("/api/tasks/events", token)]),
      );
      await Promise.all(tokens.map((token) => burst(token, 30, 3)));
      const [terminated] = (await ctx.db.execute(sql`
        select count(pg_terminate_backend(pid))::int as killed from pg_stat_activity
        where application_name = ${LISTENER_APPLICATION_NAME} and datname = current_database()`)) as unknown as {
        killed: number;
      }[];
      expect(terminated!.killed).toBe(1);
      // The last writes commit while the listener reconnects: nothing notifies them, so only the
      // catch-up after the reconnect can deliver them.
      await Promise.all(tokens.map((token) => burst(token, 12, 3)));
      await until(
        () => lines.some((line) => line.includes("listening for task changes again")),
        10_000,
        () => "the log line",
      );
      for (const [u, token] of tokens.entries()) {
        const head = await feedHead(token);
        for (const stream of streams.slice(u * 2, u * 2 + 2)) {
          await until(
            () => stream.events.at(-1)?.id === head,
            10_000,
            () => "every change after the kill",
          );
          await expectComplete(token, stream.events, starts[u]!);
        }
      }
      for (const stream of streams) stream.close();
    },
    60_000,
  );
});
