// The database goes away while the service runs: task routes answer 503 within 5 s, liveness
// stays up, readiness says down, and the service serves again by itself when the database is back.
// The database is a PostgreSQL cluster of this file's own, reached through a TCP proxy the test
// switches between forwarding, refusing and swallowing every byte.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { createApp } from "../src/app.ts";
import { createTokenVerifier } from "../src/auth/verify.ts";
import { type DatabaseHandle, openPostgres } from "../src/db/client.ts";
import { isDatabaseUnavailable } from "../src/db/outage.ts";
import { users } from "../src/db/schema.ts";
import { createLogger } from "../src/http/log.ts";
import {
  driver,
  freshDatabase,
  type SendOptions,
  send,
  TEST_SECRET,
  testBinary,
  testEvents,
  tokenFor,
} from "./helpers.ts";
import { type Cluster, hasPostgresBinaries, startCluster } from "./support/postgres-cluster.ts";
import { type ProxyMode, type Proxy as TcpProxy, tcpProxy } from "./support/tcp-proxy.ts";

// What the contract promises.
const UNAVAILABLE_WITHIN_MS = 5000;
const RECOVERED_WITHIN_MS = 20_000;

// Outages are a PostgreSQL matter: embedded PGlite runs inside the process and cannot become
// unreachable. The cluster is the test's own and the app runs in-process, so the PGlite pass and
// the binary pass would only repeat this file.
const outages = driver === "postgres" && hasPostgresBinaries && !testBinary;

let cluster: Cluster;
let proxy: TcpProxy;
let database: DatabaseHandle;
const lines: string[] = [];
let app: ReturnType<typeof createApp>;
let token: string;

async function timed(method: string, path: string, options: Omit<SendOptions, "method" | "path"> = {}) {
  const started = performance.now();
  const res = await send(app, { method, path, ...options });
  return { res, body: res.text, ms: performance.now() - started };
}

/** Asks every 100 ms until the answer is 2xx again; returns how long that took. */
async function timeToRecover(method: string, path: string, options: Omit<SendOptions, "method" | "path"> = {}) {
  const started = performance.now();
  while (performance.now() - started < RECOVERED_WITHIN_MS + 5000) {
    const { res } = await timed(method, path, options);
    if (res.status >= 200 && res.status < 300) return performance.now() - started;
    expect(res.status).toBe(503);
    await Bun.sleep(100);
  }
  throw new Error("the service did not recover");
}

describe.skipIf(!outages)(`database outage (${driver})`, () => {
  beforeAll(async () => {
    cluster = await startCluster();
    const direct = openPostgres(cluster.url, 2);
    await direct.migrate();
    await direct.close();
    proxy = tcpProxy({ hostname: "127.0.0.1", port: cluster.port });
    const url = `postgres://postgres@127.0.0.1:${proxy.port}/todo`;
    database = openPostgres(url, 10);
    app = createApp({
      config: { corsOrigins: ["http://localhost:3000"] },
      database,
      verifyToken: createTokenVerifier({ secret: TEST_SECRET }),
      log: createLogger("info", (line) => lines.push(line)),
      events: testEvents({ ...database, url }),
    });
    token = await tokenFor("outage-user");
    expect(
      (await send(app, { method: "POST", path: "/api/tasks", token, body: { title: "before the outage" } })).status,
    ).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await database?.close().catch(() => {});
    proxy?.close();
    await cluster?.destroy();
  });

  for (const mode of ["refuse", "hang"] as const satisfies ProxyMode[]) {
    const what = mode === "refuse" ? "refuses connections" : "accepts connections but never answers";
    test(`the database ${what}: 503 within 5 s on every task route, /health 200, /health/ready down; back by itself`, async () => {
      proxy.set(mode);
      const newcomer = await tokenFor(`outage-newcomer-${mode}`);
      const id = crypto.randomUUID();
      // Concurrent, more than the pool holds: waiting for a connection is bounded too.
      const calls = await Promise.all([
        timed("GET", "/api/tasks", { token }),
        timed("GET", "/api/outage-user/tasks", { token }),
        timed("POST", "/api/tasks", { token, body: { title: "during the outage" } }),
        timed("GET", `/api/tasks/${id}`, { token }),
        timed("PUT", `/api/tasks/${id}`, { token, body: { title: "x" } }),
        timed("PATCH", `/api/tasks/${id}`, { token, body: { title: "x" } }),
        timed("PATCH", `/api/tasks/${id}/complete`, { token }),
        timed("DELETE", `/api/tasks/${id}`, { token }),
        // A user seen for the first time is written before the route runs.
        timed("GET", "/api/tasks", { token: newcomer }),
        ...Array.from({ length: 12 }, () => timed("GET", "/api/tasks", { token })),
      ]);
      for (const call of calls) {
        expect(call.res.status).toBe(503);
        expect(call.res.headers.get("content-type")).toStartWith("application/json");
        expect(JSON.parse(call.body)).toEqual({ detail: "Database unavailable" });
        expect(call.ms).toBeLessThan(UNAVAILABLE_WITHIN_MS);
      }
      const slowest = Math.max(...calls.map((c) => c.ms));

      const health = await timed("GET", "/health");
      expect(health.res.status).toBe(200);
      const ready = await timed("GET", "/health/ready");
      expect(ready.res.status).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({ status: "not ready", database: "down" });
      expect(ready.ms).toBeLessThan(UNAVAILABLE_WITHIN_MS);

      // The cause is logged with its stack and the request id; the client saw none of it.
      const failed = lines.map((l) => JSON.parse(l)).filter((e) => e.msg === "request failed");
      const requestIds = new Set(calls.map((c) => c.res.headers.get("x-request-id")));
      expect(failed.some((e) => requestIds.has(e.request_id) && typeof e.cause?.stack === "string")).toBe(true);
      for (const call of calls) expect(call.body).not.toContain("stack");

      proxy.set("forward");
      const recovered = await timeToRecover("GET", "/api/tasks", { token });
      expect(recovered).toBeLessThan(RECOVERED_WITHIN_MS);
      const after = await send(app, { path: "/api/tasks", token });
      expect((after.body as { title: string }[]).map((t) => t.title)).toEqual(["before the outage"]);
      expect((await send(app, { path: "/health/ready" })).status).toBe(200);
      console.log(
        `outage (${mode}): slowest 503 after ${slowest.toFixed(0)} ms; recovered ${recovered.toFixed(0)} ms after the database returned`,
      );
    }, 60_000);
  }

  test("the database server is restarted: 503 while it is down, serving again without a restart of ours", async () => {
    await cluster.stop();
    const down = await timed("POST", "/api/tasks", { token, body: { title: "while restarting" } });
    expect(down.res.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ detail: "Database unavailable" });
    expect(down.ms).toBeLessThan(UNAVAILABLE_WITHIN_MS);
    await cluster.start();
    const recovered = await timeToRecover("POST", "/api/tasks", { token, body: { title: "after the restart" } });
    expect(recovered).toBeLessThan(RECOVERED_WITHIN_MS);
    console.log(
      `database restart: 503 after ${down.ms.toFixed(0)} ms; recovered ${recovered.toFixed(0)} ms after it was back`,
    );
  }, 60_000);
});

describe(`which database errors mean "unavailable" (${driver})`, () => {
  test("a constraint violation is the query's fault, not an outage", async () => {
    const db = await freshDatabase();
    try {
      await db.db.insert(users).values({ id: "twice" });
      const error = await db.db
        .insert(users)
        .values({ id: "twice" })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(error)).toBe(false);
    } finally {
      await db.close();
    }
  });

  test.skipIf(driver !== "postgres")(
    "connection refused is an outage (PostgreSQL only: PGlite has no connection)",
    async () => {
      const refused = new SQL({ url: "postgres://postgres@127.0.0.1:1/none", max: 1, connectionTimeout: 2 });
      const error = await refused`select 1`.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isDatabaseUnavailable(error)).toBe(true);
      await refused.close();
    },
  );
});
