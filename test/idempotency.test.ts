// Idempotency-Key (docs/api.md, "Idempotency-Key (safe retries)"): a retried write is carried out
// once and answered the same; a key reused for another request, or while its request runs, is refused
// with nothing written. Rows are read from the database to count writes; rows put there by hand stand
// in for a request still running or one whose process was killed.
import { describe, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import { and, count, eq, sql } from "drizzle-orm";
import { createApp } from "../src/app.ts";
import { createTokenVerifier } from "../src/auth/verify.ts";
import { inBatches, startHousekeeping } from "../src/db/housekeeping.ts";
import { idempotencyKeys, tasks, users } from "../src/db/schema.ts";
import { createLogger } from "../src/http/log.ts";
import { pruneExpiredKeys, pruneKeysJob } from "../src/modules/idempotency/service.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { IDEMPOTENCY_KEEP_HOURS, IDEMPOTENCY_KEYS_PER_USER } from "../src/rules.ts";
import {
  driver,
  freshDatabase,
  queryRows,
  type SendOptions,
  send,
  TEST_SECRET,
  testBinary,
  testEvents,
  tokenFor,
  useTestApp,
} from "./helpers.ts";
import { fingerprint } from "./tasks-helpers.ts";

const ctx = useTestApp();

const REUSED = { detail: "Idempotency-Key was already used for a different request" };
const IN_PROGRESS = { detail: "A request with this Idempotency-Key is in progress" };
const BAD_KEY = { detail: "The Idempotency-Key header must be 1 to 255 printable ASCII characters" };

/** A user of its own for each test, so counts and keys never mix between tests. */
async function newUser() {
  const id = `user-${crypto.randomUUID()}`;
  const token = await tokenFor(id);
  // Registers the user row, which hand-made key rows reference.
  expect((await send(ctx.app, { path: "/api/tasks", token })).status).toBe(200);
  return { id, token };
}

function keyed(token: string, key: string, request: Omit<SendOptions, "token">) {
  return send(ctx.app, { ...request, token, headers: { "idempotency-key": key, ...request.headers } });
}

async function taskCount(userId: string): Promise<number> {
  const [row] = await ctx.db.select({ n: count() }).from(tasks).where(eq(tasks.userId, userId));
  return row!.n;
}

async function keyRows() {
  return ctx.db
    .select()
    .from(idempotencyKeys)
    .orderBy(idempotencyKeys.userId, idempotencyKeys.key)
    .then((rows) => JSON.stringify(rows));
}

/** Runs `request` and checks that neither tasks, users nor kept keys changed. */
async function writesNothing<T>(request: () => Promise<T>): Promise<T> {
  const before = [await fingerprint(ctx.db), await keyRows()];
  const answer = await request();
  expect([await fingerprint(ctx.db), await keyRows()]).toEqual(before);
  return answer;
}

const keyRow = (userId: string, key: string) => and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key));

describe(`Idempotency-Key (${driver})`, () => {
  test("a create retried 5 times makes one task, and every retry gets the first answer", async () => {
    const { id, token } = await newUser();
    const create = { method: "POST", path: "/api/tasks", body: { title: "Pay rent" } };
    const first = await keyed(token, "create-1", create);
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    for (let retry = 0; retry < 5; retry++) {
      const again = await keyed(token, "create-1", create);
      expect(again.status).toBe(201);
      expect(again.text).toBe(first.text);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      for (const name of ["location", "etag", "content-type"])
        expect(again.headers.get(name)).toBe(first.headers.get(name));
      expect(again.headers.get("x-request-id")).toBeTruthy();
    }
    expect(first.headers.get("location")).toBe(`/api/tasks/${(first.body as Task).id}`);
    expect(await taskCount(id)).toBe(1);
  });

  test("a toggle retried flips once; a retried delete answers 204 again", async () => {
    const { token } = await newUser();
    const task = (await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "t" } })).body;
    const toggle = { method: "PATCH", path: `/api/tasks/${task.id}/complete` };
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await keyed(token, "toggle-1", toggle));
    expect(answers.map((answer) => [answer.status, (answer.body as Task).completed])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    expect(answers[2]!.text).toBe(answers[0]!.text);
    const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, task.id));
    expect(row!.completed).toBe(true);
    expect(row!.updatedAt.toISOString()).toBe((answers[0]!.body as Task).updated_at);

    const remove = { method: "DELETE", path: `/api/tasks/${task.id}` };
    const deleted = await keyed(token, "delete-1", remove);
    const again = await writesNothing(() => keyed(token, "delete-1", remove));
    expect([deleted.status, deleted.text, again.status, again.text]).toEqual([204, "", 204, ""]);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("content-type")).toBeNull();
  });

  test("a replayed update writes nothing, though the task changed since", async () => {
    const { token } = await newUser();
    const task = (await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "t" } })).body;
    const update = { method: "PUT", path: `/api/tasks/${task.id}`, body: { title: "first" } };
    const first = await keyed(token, "put-1", update);
    expect(first.status).toBe(200);
    await send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}`, token, body: { title: "second" } });
    const replayed = await writesNothing(() => keyed(token, "put-1", update));
    expect(replayed.text).toBe(first.text);
    const [row] = await ctx.db.select().from(tasks).where(eq(tasks.id, task.id));
    expect(row!.title).toBe("second");
  });

  test("identical requests sent at once: one is carried out, the others get 409 or the replay", async () => {
    const { id, token } = await newUser();
    for (let round = 0; round < 10; round++) {
      const create = { method: "POST", path: "/api/tasks", body: { title: `race ${round}` } };
      const answers = await Promise.all(Array.from({ length: 3 }, () => keyed(token, `race-${round}`, create)));
      const carriedOut = answers.filter((a) => a.status === 201 && !a.headers.has("idempotent-replayed"));
      expect(carriedOut).toHaveLength(1);
      for (const answer of answers) {
        if (answer === carriedOut[0]) continue;
        if (answer.status === 409) expect(answer.body).toEqual(IN_PROGRESS);
        else expect([answer.status, answer.text]).toEqual([201, carriedOut[0]!.text]);
      }
      expect(await taskCount(id)).toBe(round + 1);
    }
  });

  test("the same key with another body, path or method: 422 and nothing written", async () => {
    const { id, token } = await newUser();
    const create = { method: "POST", path: "/api/tasks", body: { title: "original" } };
    const first = await keyed(token, "reuse-1", create);
    const taskId = (first.body as Task).id;
    const others: Omit<SendOptions, "token">[] = [
      { method: "POST", path: "/api/tasks", body: { title: "another" } },
      { method: "POST", path: "/api/tasks", body: { title: "original", priority: "high" } },
      { method: "POST", path: `/api/${id}/tasks`, body: { title: "original" } },
      { method: "PUT", path: `/api/tasks/${taskId}`, body: { title: "original" } },
      { method: "PATCH", path: `/api/tasks/${taskId}/complete` },
      { method: "DELETE", path: `/api/tasks/${taskId}` },
    ];
    for (const other of others) {
      const answer = await writesNothing(() => keyed(token, "reuse-1", other));
      expect([answer.status, answer.body]).toEqual([422, REUSED]);
    }
    expect((await keyed(token, "reuse-1", create)).text).toBe(first.text);
    expect(await taskCount(id)).toBe(1);
  });

  test("keys belong to a user: another user's same key and body is carried out for them", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const create = { method: "POST", path: "/api/tasks", body: { title: "shared key" } };
    const forAlice = await keyed(alice.token, "shared", create);
    const forBob = await keyed(bob.token, "shared", create);
    expect([forAlice.status, forBob.status]).toEqual([201, 201]);
    expect(forBob.headers.get("idempotent-replayed")).toBeNull();
    expect((forBob.body as Task).user_id).toBe(bob.id);
    expect((await keyed(alice.token, "shared", create)).text).toBe(forAlice.text);
    expect((await keyed(bob.token, "shared", create)).text).toBe(forBob.text);
    expect([await taskCount(alice.id), await taskCount(bob.id)]).toEqual([1, 1]);
  });

  test("answers other than 2xx are not kept: the key is free for a retry", async () => {
    const { id, token } = await newUser();
    const other = await newUser();
    const theirs = (
      await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token: other.token, body: { title: "x" } })
    ).body;
    const refused: [Omit<SendOptions, "token">, number][] = [
      [{ method: "PATCH", path: `/api/tasks/${crypto.randomUUID()}/complete` }, 404],
      [{ method: "DELETE", path: `/api/tasks/${theirs.id}` }, 403],
      [{ method: "PUT", path: `/api/${other.id}/tasks/${theirs.id}`, body: { title: "mine" } }, 403],
      [{ method: "POST", path: "/api/tasks", body: { title: "" } }, 400],
    ];
    for (const [request, status] of refused) {
      const key = `refused-${status}-${request.method}`;
      expect((await writesNothing(() => keyed(token, key, request))).status).toBe(status);
      // The same key now carries out a different request, which a kept answer would have refused.
      const create = await keyed(token, key, { method: "POST", path: "/api/tasks", body: { title: key } });
      expect([create.status, create.headers.get("idempotent-replayed")]).toEqual([201, null]);
    }
    expect(await taskCount(id)).toBe(refused.length);
  });

  test.each([
    ["empty", "", BAD_KEY],
    ["256 characters", "k".repeat(256), BAD_KEY],
    ["not ASCII", "cl\u00e9", BAD_KEY],
    ["a tab", "a\tb", BAD_KEY],
    // Over the wire (the binary), Bun's HTTP parser refuses this header itself, with an empty 400.
    ["a control character", "a\u0001b", testBinary ? undefined : BAD_KEY],
    ["DEL", "a\u007fb", BAD_KEY],
  ])("a key that is %s: 400 naming the header, nothing written", async (_, key, body) => {
    const { token } = await newUser();
    const answer = await writesNothing(() =>
      keyed(token, key, { method: "POST", path: "/api/tasks", body: { title: "t" } }),
    );
    expect([answer.status, answer.body]).toEqual([400, body]);
  });

  test("keys of 1 to 255 printable ASCII characters, spaces included, are taken", async () => {
    const { id, token } = await newUser();
    for (const key of ["k", "~".repeat(255), "a b !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"]) {
      const answer = await keyed(token, key, { method: "POST", path: "/api/tasks", body: { title: key.slice(0, 9) } });
      expect(answer.status).toBe(201);
    }
    expect(await taskCount(id)).toBe(3);
  });

  test("401 comes before the key's format, which comes before the body and the path's user", async () => {
    const { token } = await newUser();
    const noToken = await writesNothing(() =>
      send(ctx.app, { method: "POST", path: "/api/tasks", body: { title: "t" }, headers: { "idempotency-key": "" } }),
    );
    expect([noToken.status, noToken.body]).toEqual([401, { detail: "Missing authentication token" }]);
    for (const request of [
      { method: "POST", path: "/api/tasks", body: { title: 5 } },
      { method: "POST", path: "/api/someone-else/tasks", body: { title: "t" } },
    ]) {
      const answer = await writesNothing(() => keyed(token, "", request));
      expect([answer.status, answer.body]).toEqual([400, BAD_KEY]);
    }
  });

  test("reads ignore the header", async () => {
    const { token } = await newUser();
    expect((await keyed(token, "", { path: "/api/tasks" })).status).toBe(200);
  });

  test("a kept answer holds 24 hours", async () => {
    const { id, token } = await newUser();
    await keyed(token, "kept-1", { method: "POST", path: "/api/tasks", body: { title: "t" } });
    const lifetime = sql<number>`extract(epoch from ${idempotencyKeys.expiresAt} - ${idempotencyKeys.createdAt})::int`;
    const [kept] = await ctx.db.select({ lifetime }).from(idempotencyKeys).where(keyRow(id, "kept-1"));
    expect(Math.abs(kept!.lifetime - IDEMPOTENCY_KEEP_HOURS * 3600)).toBeLessThan(60);
  });

  test("a kept answer past its 24 hours is not replayed: the request is carried out afresh", async () => {
    const { id, token } = await newUser();
    const create = { method: "POST", path: "/api/tasks", body: { title: "daily" } };
    const first = await keyed(token, "day-1", create);
    await ctx.db
      .update(idempotencyKeys)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(keyRow(id, "day-1"));
    const later = await keyed(token, "day-1", create);
    expect([later.status, later.headers.get("idempotent-replayed")]).toEqual([201, null]);
    expect((later.body as Task).id).not.toBe((first.body as Task).id);
    expect(await taskCount(id)).toBe(2);
  });

  test("a restarted service (another app on the same database) replays the answer", async () => {
    const { id, token } = await newUser();
    const create = { method: "POST", path: "/api/tasks", body: { title: "before restart" } };
    const first = await keyed(token, "restart-1", create);
    // Against the binary, ctx.app is another process: this also shows two replicas sharing keys.
    const restarted = createApp({
      config: { corsOrigins: ["http://localhost:3000"] },
      database: ctx.database,
      verifyToken: createTokenVerifier({ secret: TEST_SECRET }),
      log: createLogger("silent"),
      events: testEvents(ctx.database),
    });
    const again = await send(restarted, { ...create, token, headers: { "idempotency-key": "restart-1" } });
    expect([again.status, again.text, again.headers.get("idempotent-replayed")]).toEqual([201, first.text, "true"]);
    expect(await taskCount(id)).toBe(1);
  });

  test("expired rows are pruned in bounded batches; live ones stay", async () => {
    const { id } = await newUser();
    const row = (key: string, expiresIn: string) => ({
      userId: id,
      key,
      fingerprint: "f",
      status: 201,
      body: "{}",
      expiresAt: sql`now() + ${expiresIn}::interval`,
    });
    await ctx.db
      .insert(idempotencyKeys)
      .values([
        row("old-answer-1", "-1 hour"),
        row("old-answer-2", "-1 second"),
        row("old-answer-3", "-1 second"),
        row("live-answer", "1 hour"),
        row("live-answer-2", "30 seconds"),
      ]);
    const mine = () =>
      ctx.db
        .select({ key: idempotencyKeys.key })
        .from(idempotencyKeys)
        .where(eq(idempotencyKeys.userId, id))
        .orderBy(idempotencyKeys.key)
        .then((rows) => rows.map((r) => r.key));
    expect(await inBatches((batch) => pruneExpiredKeys(ctx.db, batch), 1, 2)).toBe(2);
    expect(await mine()).toHaveLength(3);
    expect(await pruneExpiredKeys(ctx.db, 1)).toBe(1);
    expect(await mine()).toEqual(["live-answer", "live-answer-2"]);
  });

  test("the housekeeping timer deletes expired rows, and runs no more once stopped", async () => {
    const database = await freshDatabase();
    const failures: unknown[] = [];
    const housekeeping = startHousekeeping([{ ...pruneKeysJob(database.db), everyMs: 50 }], (_, cause) =>
      failures.push(cause),
    );
    await database.db.insert(users).values({ id: "pruned" });
    await database.db.insert(idempotencyKeys).values({
      userId: "pruned",
      key: "k",
      fingerprint: "f",
      status: 200,
      body: "{}",
      expiresAt: sql`now() - interval '1 second'`,
    });
    const left = () =>
      database.db
        .select({ n: count() })
        .from(idempotencyKeys)
        .then((rows) => rows[0]!.n);
    for (let waited = 0; (await left()) > 0 && waited < 10_000; waited += 50) await Bun.sleep(50);
    expect(await left()).toBe(0);
    housekeeping.stop();
    await database.close();
    // A tick on the closed database would fail and be reported.
    await Bun.sleep(500);
    expect(failures).toEqual([]);
  }, 30_000);

  test("Eden, as the README shows: one key per write, sent again with every retry of it", async () => {
    const { id, token } = await newUser();
    const api = treaty(ctx.app, { parseDate: false, headers: { authorization: `Bearer ${token}` } });
    const create = { headers: { "idempotency-key": crypto.randomUUID() } };
    const created = await api.api.tasks.post({ title: "via Eden" }, create);
    const retried = await api.api.tasks.post({ title: "via Eden" }, create);
    expect([created.status, retried.status]).toEqual([201, 201]);
    expect(retried.data).toEqual(created.data!);
    expect((retried.headers as Headers).get("idempotent-replayed")).toBe("true");

    const toggle = { headers: { "idempotency-key": crypto.randomUUID() } };
    const task = api.api.tasks({ id: created.data!.id });
    const flipped = await task.complete.patch(undefined, toggle);
    const again = await task.complete.patch(undefined, toggle);
    expect([flipped.data!.completed, again.data!.completed]).toEqual([true, true]);
    expect(await taskCount(id)).toBe(1);
  });

  /** `n` answers kept for `userId` by hand (the oldest expiring in `oldestInSeconds`), as if from earlier writes. */
  async function keptAnswers(userId: string, n: number, oldestInSeconds: number) {
    await ctx.db.execute(sql`
      insert into idempotency_keys (user_id, key, fingerprint, status, body, expires_at)
      select ${userId}, 'earlier-' || i, 'f', 200, '{}',
        case when i = 1 then now() + make_interval(secs => ${oldestInSeconds}) else now() + interval '23 hours' end
      from generate_series(1, ${n}::int) as i`);
  }

  const liveKeys = (userId: string) =>
    ctx.db.$count(idempotencyKeys, and(eq(idempotencyKeys.userId, userId), sql`${idempotencyKeys.expiresAt} > now()`));

  const TOO_MANY = (seconds: number) => ({
    detail: `Too many Idempotency-Keys: at most ${IDEMPOTENCY_KEYS_PER_USER} answers are kept per user; retry in ${seconds} s`,
  });

  test(`a user keeps at most ${IDEMPOTENCY_KEYS_PER_USER} answers: one more is 429 with Retry-After, nothing written`, async () => {
    const { id, token } = await newUser();
    const task = (await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "t" } })).body;
    await keptAnswers(id, IDEMPOTENCY_KEYS_PER_USER - 1, 100);
    const noop = { method: "PATCH", path: `/api/tasks/${task.id}`, body: {} };
    const last = await keyed(token, "last", noop);
    expect(last.status).toBe(200);
    expect(await liveKeys(id)).toBe(IDEMPOTENCY_KEYS_PER_USER);
    // Over the bound: refused before anything is kept, whatever the write.
    for (const request of [noop, { method: "PATCH", path: `/api/tasks/${task.id}/complete` }]) {
      const over = await writesNothing(() => keyed(token, "over", request));
      const retryAfter = Number(over.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(98);
      expect(retryAfter).toBeLessThanOrEqual(100);
      expect([over.status, over.body]).toEqual([429, TOO_MANY(retryAfter)]);
    }
    // A retry of a kept answer, and a write without a key, still go.
    const replayed = await keyed(token, "last", noop);
    expect([replayed.status, replayed.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
    const plain = await send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token });
    expect(plain.status).toBe(200);
    // Once the oldest answer expires, a new key is kept in its place.
    await ctx.db
      .update(idempotencyKeys)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(keyRow(id, "earlier-1"));
    const later = await keyed(token, "over", { method: "PATCH", path: `/api/tasks/${task.id}/complete` });
    expect([later.status, (later.body as Task).completed]).toEqual([200, false]);
    expect(await liveKeys(id)).toBe(IDEMPOTENCY_KEYS_PER_USER);
  });

  test("the bound holds under concurrent keyed writes: 20 at once with one place left keep exactly one", async () => {
    const { id, token } = await newUser();
    await keptAnswers(id, IDEMPOTENCY_KEYS_PER_USER - 1, 3600);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        keyed(token, `burst-${i}`, { method: "POST", path: "/api/tasks", body: { title: `burst ${i}` } }),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, ...Array(19).fill(429)]);
    expect(await taskCount(id)).toBe(1);
    expect(await liveKeys(id)).toBe(IDEMPOTENCY_KEYS_PER_USER);
  });

  test("what one kept answer costs at most: under 8 KB of table, TOAST and index, so a user under 8 MB", async () => {
    const { token } = await newUser();
    // The longest fields (in UTF-16 units, as lengths count), in characters that take the most bytes
    // once stored and do not compress: CJK ideographs (3 UTF-8 bytes) and control characters (6
    // bytes in JSON, \u0001), at random, a quarter of them controls (the costliest share measured: ~7.4 KB an answer on
    // PostgreSQL 15, against ~5.7 KB for CJK alone); and the longest key.
    const wide = (n: number) =>
      Array.from({ length: n }, () =>
        Math.random() < 0.25
          ? String.fromCharCode(1 + Math.floor(Math.random() * 31))
          : String.fromCharCode(0x4e00 + Math.floor(Math.random() * 0x5000)),
      ).join("");
    const body = { title: `x${wide(198)}x`, description: wide(1000), priority: "medium", due_date: "2026-12-01" };
    const created = await send<Task>(ctx.app, { method: "POST", path: "/api/tasks", token, body });
    expect(created.status).toBe(201);
    const size = async () => {
      const [row] = await queryRows<{ bytes: number }>(
        ctx.db,
        sql`select pg_total_relation_size('idempotency_keys')::float8 as bytes`,
      );
      return row!.bytes;
    };
    const before = await size();
    const n = 100;
    const path = `/api/tasks/${created.body.id}`;
    for (let i = 0; i < n; i++) {
      const key = `${String(i).padStart(3, "0")}${"k".repeat(252)}`;
      expect((await keyed(token, key, { method: "PATCH", path, body: {} })).status).toBe(200);
    }
    const perAnswer = ((await size()) - before) / n;
    expect(perAnswer).toBeLessThan(8 * 1024);
  }, 60_000);

  test("a user deleted outside the service takes its keys with it", async () => {
    const { id, token } = await newUser();
    await keyed(token, "gone-1", { method: "POST", path: "/api/tasks", body: { title: "t" } });
    await ctx.db.delete(users).where(eq(users.id, id));
    expect(await ctx.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.userId, id))).toEqual([]);
  });
});
