// Scale-out with real components: three replicas of the service behind HAProxy, all reaching one
// PostgreSQL through a transaction-mode PgBouncer, started at once on an empty database. A bounded
// mixed load (creates, updates, toggles, lists) runs through the balancer while one replica is
// killed with SIGKILL and started again. Every write answered 2xx must be in the database
// afterwards, and the only requests allowed to fail are those the killed replica had in flight.
import { afterAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { SQL } from "bun";
import journal from "../drizzle/meta/_journal.json";
import { hasHaproxy, startHaproxy } from "../harness/haproxy.ts";
import { hasPgBouncer, startPgBouncer } from "../harness/pgbouncer.ts";
import { freePort } from "../harness/process.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, freshDatabase, pooler, TEST_SECRET, testBinary, tokenFor } from "./helpers.ts";

const WORKERS = 8; // clients, each sending one request at a time as its own user
const MAX_REQUESTS_PER_WORKER = 1000;
const PACE_MS = 20; // at most one request per client per PACE_MS: ~400/s in all, a shared machine's share
const KILL_AFTER_MS = 1500;
const LOAD_AFTER_RETURN_MS = 1000;
const RETURN_WITHIN_MS = 20_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** Starts one replica on `port`; resolves once it logs "listening". stdout is read to its end. */
function startReplica(port: number, env: Record<string, string>): Promise<Subprocess> {
  const command = testBinary ? [testBinary] : ["bun", "src/index.ts"];
  const proc = Bun.spawn(command, {
    env: { PATH: process.env.PATH, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  return new Promise((resolve, reject) => {
    void (async () => {
      const decoder = new TextDecoder();
      let seen = "";
      let listening = false;
      for await (const chunk of proc.stdout) {
        if (listening) continue;
        seen += decoder.decode(chunk, { stream: true });
        if (seen.includes('"msg":"listening"')) {
          listening = true;
          resolve(proc);
        }
      }
      if (!listening)
        reject(new Error(`replica exited (${await proc.exited}) before listening:\n${seen}${await stderr}`));
    })();
  });
}

interface Attempt {
  op: "create" | "update" | "toggle" | "list";
  taskId?: string;
  sentAt: number;
  answeredAt: number;
  /** 0: no HTTP answer at all. */
  status: number;
  replica: string | null;
  body?: unknown;
}

const OPS = ["create", "list", "update", "toggle", "create", "update", "list", "toggle"] as const;

/** One client: requests one after the other until `done()` or its budget is spent. */
async function client(base: string, token: string, name: string, done: () => boolean): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  const mine: string[] = [];
  for (let n = 0; n < MAX_REQUESTS_PER_WORKER && !done(); n++) {
    const op = mine.length < 2 ? "create" : OPS[n % OPS.length]!;
    const taskId = op === "create" || op === "list" ? undefined : mine[n % mine.length];
    const [method, path, body] =
      op === "create"
        ? ["POST", "/api/tasks", { title: `${name} #${n}` }]
        : op === "update"
          ? ["PUT", `/api/tasks/${taskId}`, { title: `${name} #${n}`, priority: n % 2 ? "high" : "low" }]
          : op === "toggle"
            ? ["PATCH", `/api/tasks/${taskId}/complete`, undefined]
            : ["GET", "/api/tasks?limit=20", undefined];
    const sentAt = performance.now();
    const attempt: Attempt = { op, taskId, sentAt, answeredAt: sentAt, status: 0, replica: null };
    try {
      const response = await fetch(base + path, {
        method,
        // A connection per request, so every failure comes back as an answer: on a kept-alive
        // connection whose last request went to the killed replica, HAProxy closes the client's
        // connection without answering (its "http-reuse safe" contract: a browser retries that
        // silently), and the next request sent on it meets a reset before HAProxy ever saw it.
        keepalive: false,
        headers: { authorization: `Bearer ${token}`, ...(body && { "content-type": "application/json" }) },
        body: body && JSON.stringify(body),
      });
      const text = await response.text();
      attempt.status = response.status;
      attempt.replica = response.headers.get("x-replica");
      attempt.body = response.ok && text ? JSON.parse(text) : text;
    } catch (error) {
      attempt.body = String(error);
    }
    attempt.answeredAt = performance.now();
    attempts.push(attempt);
    await Bun.sleep(Math.max(0, PACE_MS - (attempt.answeredAt - sentAt)));
    if (op === "create" && attempt.status === 201) {
      const task = attempt.body as Task;
      attempt.taskId = task.id;
      mine.push(task.id);
    }
  }
  return attempts;
}

const ok = (a: Attempt) => a.status >= 200 && a.status < 300;

describe(`scale-out behind HAProxy and PgBouncer (${driver})`, () => {
  // Needs PostgreSQL and both packages (.ci/run installs them). In the suite's pooled run
  // (test/with-pgbouncer.ts) it would only repeat itself: it starts its own PgBouncer anyway.
  test.skipIf(driver !== "postgres" || pooler !== "none" || !hasPgBouncer || !hasHaproxy)(
    "3 replicas start at once on an empty database; a replica killed under load loses only its in-flight requests",
    async () => {
      const database = await freshDatabase({ migrated: false });
      cleanups.push(() => database.close());
      const bouncer = await startPgBouncer(database.url!, { poolSize: 10 });
      cleanups.push(() => bouncer.stop());
      const env = {
        DATABASE_URL: bouncer.url,
        DATABASE_DIRECT_URL: database.url!,
        DATABASE_POOLER: "transaction",
        BETTER_AUTH_SECRET: TEST_SECRET,
        NODE_ENV: "production",
      };

      const replicas = ["r1", "r2", "r3"].map((name) => ({
        name,
        port: freePort(),
        proc: undefined as Subprocess | undefined,
      }));
      const procs = await Promise.all(replicas.map((r) => startReplica(r.port, env)));
      replicas.forEach((r, i) => {
        r.proc = procs[i];
      });
      cleanups.push(async () => {
        for (const r of replicas) r.proc?.kill("SIGTERM");
        await Promise.all(replicas.map((r) => r.proc?.exited));
      });
      const direct = new SQL({ url: database.url!, max: 1 });
      cleanups.push(() => direct.close());
      const [{ applied }] = await direct`select count(*)::int as applied from drizzle.__drizzle_migrations`;
      expect(applied).toBe(journal.entries.length);
      // The server-side half of the 3 s deadline, set by the migrations since the pooler refuses it
      // as a startup parameter.
      const [{ settings }] = await direct`
        select setconfig as settings from pg_db_role_setting
        where setdatabase = (select oid from pg_database where datname = current_database())
          and setrole = (select oid from pg_roles where rolname = current_user)`;
      expect(settings).toEqual(["statement_timeout=3000"]);

      const balancer = await startHaproxy(replicas);
      cleanups.push(() => balancer.stop());
      // Round robin over three healthy replicas names all three within a few requests.
      const seen = new Set<string>();
      for (let i = 0; i < 100 && seen.size < 3; i++) {
        const answer = await fetch(`${balancer.url}/health/ready`);
        if (answer.ok) seen.add(answer.headers.get("x-replica")!);
        else await Bun.sleep(100);
      }
      expect([...seen].sort()).toEqual(["r1", "r2", "r3"]);

      let stop = false;
      const tokens = await Promise.all(Array.from({ length: WORKERS }, (_, i) => tokenFor(`scale-${i}`)));
      const load = Promise.all(tokens.map((token, i) => client(balancer.url, token, `w${i}`, () => stop)));
      const started = performance.now();
      const stopAnyway = setTimeout(() => {
        stop = true;
      }, 45_000);

      await Bun.sleep(KILL_AFTER_MS);
      const victim = replicas[1]!;
      const killedAt = performance.now();
      victim.proc!.kill("SIGKILL");
      await victim.proc!.exited;
      const deadAt = performance.now();
      victim.proc = await startReplica(victim.port, env);
      const restartedAt = performance.now();
      // Until the balancer has seen it healthy again: its health checks, then a request answered by it.
      let backAt: number | undefined;
      while (backAt === undefined && performance.now() - restartedAt < RETURN_WITHIN_MS) {
        const answer = await fetch(`${balancer.url}/health`);
        if (answer.headers.get("x-replica") === victim.name) backAt = performance.now();
        else await Bun.sleep(50);
      }
      expect(backAt).toBeDefined();
      await Bun.sleep(LOAD_AFTER_RETURN_MS);
      stop = true;
      clearTimeout(stopAnyway);
      const attempts = (await load).flat();
      const finished = performance.now();

      const failed = attempts.filter((a) => !ok(a));
      const byReplica = Object.fromEntries(
        replicas.map((r) => [r.name, attempts.filter((a) => a.replica === r.name && ok(a)).length]),
      );
      console.log(
        `scale-out: ${attempts.length} requests in ${((finished - started) / 1000).toFixed(1)} s ` +
          `(${JSON.stringify(byReplica)} answered 2xx per replica); ${victim.name} killed at ` +
          `${((killedAt - started) / 1000).toFixed(1)} s, listening again ${((restartedAt - killedAt) / 1000).toFixed(1)} s ` +
          `later, serving through the balancer ${((backAt! - killedAt) / 1000).toFixed(1)} s after the kill; ` +
          `${failed.length} failed (gone ${(deadAt - killedAt).toFixed(0)} ms after the kill): ${failed.map((a) => `${a.op} ${a.status} from ${a.replica}, sent ${(a.sentAt - killedAt).toFixed(0)} ms after the kill`).join("; ")}`,
      );

      // Only what the killed replica had in flight failed: sent before it was gone (while SIGKILL
      // takes effect its listening socket still accepts), answered after the kill, by HAProxy's 502
      // for that replica. Reads among them were sent again to another replica, writes were not.
      for (const attempt of failed) {
        expect({ op: attempt.op, status: attempt.status, replica: attempt.replica }).toEqual({
          op: expect.not.stringMatching(/^list$/),
          status: 502,
          replica: victim.name,
        });
        expect(attempt.sentAt).toBeLessThan(deadAt);
        expect(attempt.answeredAt).toBeGreaterThan(killedAt);
      }
      expect(failed.length).toBeLessThanOrEqual(WORKERS);
      // The restarted replica carried load again.
      expect(attempts.some((a) => a.replica === victim.name && a.sentAt > restartedAt && ok(a))).toBe(true);

      // Every write answered 2xx is in the database. A task whose last write failed may or may not
      // show that write (it may have committed before the kill), so only its existence is checked.
      const rows = new Map<string, { user_id: string; title: string; completed: boolean; updated_at: string }>();
      for (const row of await direct`
        select id, user_id, title, completed,
               to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at
        from tasks`)
        rows.set(row.id, row);
      const writes = attempts.filter((a) => a.op !== "list");
      const lastWrite = new Map<string, Attempt>();
      for (const write of writes) if (write.taskId) lastWrite.set(write.taskId, write);
      let checked = 0;
      for (const [id, write] of lastWrite) {
        const row = rows.get(id);
        expect(row).toBeDefined();
        if (!ok(write)) continue;
        const { user_id, title, completed, updated_at } = write.body as Task;
        expect(row).toEqual({ id, user_id, title, completed, updated_at } as never);
        checked++;
      }
      const created = writes.filter((a) => a.op === "create" && ok(a)).length;
      const unsureCreates = failed.filter((a) => a.op === "create").length;
      expect(rows.size).toBeGreaterThanOrEqual(created);
      expect(rows.size).toBeLessThanOrEqual(created + unsureCreates);
      expect(checked).toBeGreaterThan(WORKERS);
    },
    120_000,
  );
});
