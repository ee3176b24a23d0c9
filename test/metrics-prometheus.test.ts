// Metrics as an operator reads them: a real Prometheus scrapes the service's METRICS_PORT while
// requests of every route and status, then 10,000 with random ids and bad paths, go to its API
// port; what Prometheus answers must name routes by their pattern, never a user, task or path sent,
// and stay a few hundred series. In the suite's binary mode the compiled binary is scraped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../harness/process.ts";
import { createApp } from "../src/app.ts";
import { createTokenVerifier } from "../src/auth/verify.ts";
import { createLogger } from "../src/http/log.ts";
import { disableMetrics, enableMetrics } from "../src/observability/metrics.ts";
import { serveMetrics } from "../src/observability/metrics-server.ts";
import { freshDatabase, TEST_SECRET, type TestDatabase, testBinary, testEvents, tokenFor } from "./helpers.ts";
import { type Prometheus, prometheusBinary, startPrometheus } from "./support/prometheus.ts";
import { startService } from "./support/service.ts";

// Low enough that the random requests of the last test meet it.
const RATE_LIMIT = 100;
const POOL_MAX = 10;
const RANDOM_REQUESTS = 10_000;
const MAX_SERIES = 500;
const ODD_METHODS = ["PURGE", "PROPFIND", "MKCOL", "LOCK", "REPORT"];
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

interface Service {
  api: string;
  metrics: URL;
  close(): Promise<void>;
}

/** The app on a port and its metrics on another: in this process, or the compiled binary. */
async function startServiceWithMetrics(database: TestDatabase): Promise<Service> {
  if (testBinary) {
    if (!database.env) throw new Error("TEST_BINARY needs TEST_DATABASE_URL");
    const metricsPort = freePort();
    const server = await startService({
      ...database.env,
      BETTER_AUTH_SECRET: TEST_SECRET,
      RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
      DB_POOL_MAX: String(POOL_MAX),
      METRICS_PORT: String(metricsPort),
    });
    return {
      api: server.url,
      metrics: new URL(`http://127.0.0.1:${metricsPort}/metrics`),
      close: async () => {
        await server.stop();
      },
    };
  }
  const registry = enableMetrics({
    version: "test",
    poolMax: database.kind === "postgres" ? POOL_MAX : undefined,
    requestsInFlight: () => app.server?.pendingRequests ?? 0,
  });
  const log = createLogger("silent");
  const events = testEvents(database, log);
  const app = createApp({
    config: { corsOrigins: ["http://localhost:3000"], rateLimitPerMinute: RATE_LIMIT },
    database,
    verifyToken: createTokenVerifier({ secret: TEST_SECRET }),
    log,
    events,
  }).listen({ hostname: "127.0.0.1", port: 0 });
  const metricsServer = serveMetrics(registry, { host: "127.0.0.1", port: 0 });
  return {
    api: app.server!.url.origin,
    metrics: new URL("/metrics", metricsServer.url),
    close: async () => {
      await metricsServer.stop(true);
      await app.stop(true);
      await events.close();
      disableMetrics();
    },
  };
}

const skipReason = prometheusBinary ? undefined : "Debian's prometheus is not installed (apt-get install prometheus)";

describe.skipIf(skipReason !== undefined)(
  `metrics scraped by Prometheus${skipReason ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    let database: TestDatabase;
    let service: Service;
    let prometheus: Prometheus;
    let alice: string;
    let bob: string;
    /** Every id and text sent in a path, a query or a token: none may show up in a label. */
    const secrets = new Set<string>();
    let sent = 0;
    let rateLimited = 0;

    const call = async (
      method: string,
      path: string,
      { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
    ) => {
      sent += 1;
      const response = await fetch(service.api + path, {
        method,
        headers: {
          ...headers,
          ...(token && { authorization: `Bearer ${token}` }),
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status === 429) rateLimited += 1;
      return {
        status: response.status,
        headers: response.headers,
        json: (text ? JSON.parse(text) : undefined) as Record<string, string> | undefined,
      };
    };

    /** One request of every route and of each status it answers, checked as it goes. */
    const everyRouteAndStatus = async () => {
      const expectStatus = async (status: number, answer: ReturnType<typeof call>) => {
        const { status: got, headers, json } = await answer;
        expect({ got }).toEqual({ got: status });
        return { headers, json };
      };
      await expectStatus(200, call("GET", "/health"));
      await expectStatus(200, call("GET", "/health/ready"));
      await expectStatus(200, call("GET", "/docs/json"));
      await expectStatus(404, call("GET", "/no/such/route"));
      await expectStatus(405, call("DELETE", "/health"));
      await expectStatus(401, call("GET", "/api/tasks"));
      const created = await expectStatus(201, call("POST", "/api/tasks", { token: alice, body: { title: "Metrics" } }));
      const id = created.json!.id!;
      secrets.add(id);
      const etag = created.headers.get("etag")!;
      await expectStatus(400, call("POST", "/api/tasks", { token: alice, body: { title: "" } }));
      await expectStatus(413, call("POST", "/api/tasks", { token: alice, body: { title: "x".repeat(70_000) } }));
      const list = await expectStatus(200, call("GET", "/api/tasks?status=pending", { token: alice }));
      await expectStatus(
        304,
        call("GET", "/api/tasks?status=pending", {
          token: alice,
          headers: { "if-none-match": list.headers.get("etag")! },
        }),
      );
      await expectStatus(400, call("GET", "/api/tasks?limit=0", { token: alice }));
      await expectStatus(200, call("GET", `/api/tasks/${id}`, { token: alice }));
      await expectStatus(304, call("GET", `/api/tasks/${id}`, { token: alice, headers: { "if-none-match": etag } }));
      await expectStatus(403, call("GET", `/api/tasks/${id}`, { token: bob }));
      await expectStatus(404, call("GET", `/api/tasks/${crypto.randomUUID()}`, { token: alice }));
      await expectStatus(200, call("GET", `/api/alice/tasks/${id}`, { token: alice }));
      await expectStatus(403, call("GET", `/api/alice/tasks/${id}`, { token: bob }));
      await expectStatus(
        412,
        call("PUT", `/api/tasks/${id}`, { token: alice, body: {}, headers: { "if-match": '"0"' } }),
      );
      await expectStatus(200, call("PUT", `/api/tasks/${id}`, { token: alice, body: { priority: "high" } }));
      await expectStatus(200, call("PATCH", `/api/tasks/${id}`, { token: alice, body: { description: "d" } }));
      const key = { "idempotency-key": crypto.randomUUID() };
      await expectStatus(200, call("PATCH", `/api/tasks/${id}/complete`, { token: alice, headers: key }));
      const replay = await expectStatus(
        200,
        call("PATCH", `/api/tasks/${id}/complete`, { token: alice, headers: key }),
      );
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      await expectStatus(
        422,
        call("PATCH", `/api/tasks/${id}`, { token: alice, body: { title: "other" }, headers: key }),
      );
      const feed = await expectStatus(200, call("GET", "/api/tasks/changes", { token: alice }));
      await expectStatus(200, call("GET", `/api/alice/tasks/changes?since=${feed.json!.cursor}`, { token: alice }));
      await expectStatus(400, call("GET", "/api/tasks/changes?since=nope", { token: alice }));
      await streamOneEvent();
      await expectStatus(204, call("DELETE", `/api/tasks/${id}`, { token: alice }));
      await expectStatus(404, call("DELETE", `/api/tasks/${id}`, { token: alice }));
    };

    /** Opens alice's event stream, makes a change, reads its event, closes the stream. */
    const streamOneEvent = async () => {
      sent += 1;
      const response = await fetch(`${service.api}/api/tasks/events`, {
        headers: { authorization: `Bearer ${alice}` },
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value);
      await call("POST", "/api/tasks", { token: alice, body: { title: "Streamed" } });
      while (!text.includes("event: task")) text += decoder.decode((await reader.read()).value);
      await reader.cancel();
    };

    beforeAll(async () => {
      database = await freshDatabase();
      service = await startServiceWithMetrics(database);
      prometheus = await startPrometheus(service.metrics);
      // Prometheus takes its targets a few seconds after it starts.
      await prometheus.until('up{job="todo-api"}', (up) => up === 1, 20_000);
      alice = await tokenFor("alice");
      bob = await tokenFor("bob");
      for (const name of ["alice", "bob", alice, bob, ...ODD_METHODS]) secrets.add(name);
    }, 60_000);

    afterAll(async () => {
      await prometheus?.stop();
      await service?.close();
      await database?.close();
    });

    test("serves nothing of the metrics on the API's port", async () => {
      expect((await fetch(`${service.api}/metrics`)).status).toBe(404);
      const scraped = await fetch(service.metrics);
      expect(scraped.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      expect(await scraped.text()).toContain('todo_api_build_info{version="');
    });

    // First, on a service that has served nothing else: what every route and status adds comes after
    // (some 30 label sets of the duration histogram, 17 series each with the conventions' 14 buckets).
    test(`stays under ${MAX_SERIES} series after ${RANDOM_REQUESTS} requests with random ids, users, methods and paths`, async () => {
      const users = await Promise.all(["carol", "dave", "erin", "frank"].map((name) => tokenFor(name)));
      const random = () => {
        const text = crypto.randomUUID();
        secrets.add(text);
        return text;
      };
      const kinds = [
        () => call("GET", `/api/tasks/${random()}`, { token: users[sent % users.length] }),
        () => call("PATCH", `/api/${random()}/tasks/${random()}/complete`, { token: users[sent % users.length] }),
        () => call("GET", `/${random()}/${random()}?q=${random()}`),
        // Methods outside HTTP's own that Bun passes on (its fetch() sends GET for a made-up one).
        () => call(ODD_METHODS[sent % ODD_METHODS.length]!, `/api/tasks?q=${random()}`),
        () => call("GET", `/api/tasks/${random()}/nope`),
      ];
      const before = sent;
      // In batches, the series counted after each: a label that took what was sent would grow by
      // thousands, and this fails at the first batch instead of drowning the process in series.
      const BATCH = 1000;
      for (let start = 0; start < RANDOM_REQUESTS; start += BATCH) {
        const workers = Array.from({ length: 16 }, async (_, worker) => {
          for (let i = start + worker; i < start + BATCH; i += 16) await kinds[i % kinds.length]!();
        });
        await Promise.all(workers);
        const [count] = await prometheus.query('count({job="todo-api"})');
        expect(count!.value).toBeLessThan(MAX_SERIES);
      }
      expect(sent - before).toBe(RANDOM_REQUESTS);

      await prometheus.until('sum(http_server_request_duration_seconds_count{job="todo-api"})', (n) => n >= sent);
      // The random requests' users went past RATE_LIMIT_PER_MINUTE.
      expect(rateLimited).toBeGreaterThan(0);
      expect((await prometheus.query("todo_api_rate_limited_requests_total"))[0]?.value).toBe(rateLimited);
      const series = await prometheus.series();
      expect(series.length).toBeGreaterThan(50);
      // Whatever was sent, the requests fell in a handful of (method, route, status) label sets.
      expect(
        series.filter((labels) => labels.__name__ === "http_server_request_duration_seconds_count").length,
      ).toBeLessThan(10);
      expect(series.length).toBeLessThan(MAX_SERIES);
      const values = new Set(series.flatMap((labels) => Object.values(labels)));
      const leaked = [...values].filter((value) => UUID.test(value) || [...secrets].some((s) => value.includes(s)));
      expect(leaked).toEqual([]);
      const methods = new Set(series.map((labels) => labels.http_request_method).filter(Boolean));
      expect([...methods].sort()).toEqual(["GET", "PATCH", "_OTHER"]);
    }, 60_000);

    test("every route's request rate and p99, labelled by its pattern, with nothing of what was sent in a label", async () => {
      const total = 'sum(http_server_request_duration_seconds_count{job="todo-api"})';
      // Two rounds, each seen by a scrape: a rate needs a counter that moved between two samples.
      await everyRouteAndStatus();
      await prometheus.until(total, (n) => n >= sent);
      await everyRouteAndStatus();
      await prometheus.until(total, (n) => n >= sent);

      const rates = await prometheus.query(
        'sum by (http_route) (rate(http_server_request_duration_seconds_count{job="todo-api"}[1m]))',
      );
      const rateOf = Object.fromEntries(rates.map((s) => [s.metric.http_route, s.value]));
      const routes = [
        "/health",
        "/health/ready",
        "/docs/json",
        "/api/tasks",
        "/api/tasks/:id",
        "/api/:user_id/tasks/:id",
        "/api/tasks/:id/complete",
        "/api/tasks/changes",
        "/api/:user_id/tasks/changes",
        "/api/tasks/events",
        "unmatched",
      ];
      for (const route of routes) expect({ route, positive: rateOf[route]! > 0 }).toEqual({ route, positive: true });

      const p99 = await prometheus.query(
        'histogram_quantile(0.99, sum by (http_route, le) (rate(http_server_request_duration_seconds_bucket{job="todo-api"}[1m])))',
      );
      const p99Of = Object.fromEntries(p99.map((s) => [s.metric.http_route, s.value]));
      for (const route of routes) {
        const value = p99Of[route]!;
        expect({ route, p99: value > 0 && value <= 10 }).toEqual({ route, p99: true });
      }

      const byStatus = await prometheus.query(
        'sum by (http_response_status_code) (http_server_request_duration_seconds_count{job="todo-api"})',
      );
      expect(byStatus.map((s) => s.metric.http_response_status_code).sort()).toEqual(
        ["200", "201", "204", "304", "400", "401", "403", "404", "405", "412", "413", "422", "429"].sort(),
      );
      const value = async (selector: string) => (await prometheus.query(selector))[0]?.value;
      expect(await value("todo_api_idempotency_replays_total")).toBe(2);
      expect(await value('todo_api_idempotency_conflicts_total{reason="different_request"}')).toBe(2);
      expect(await value("todo_api_change_feed_pages_total")).toBe(4);
      expect(await value("todo_api_events_sent_total")).toBeGreaterThanOrEqual(2);
      expect(await value("todo_api_event_delivery_lag_seconds_count")).toBeGreaterThanOrEqual(2);
      expect(await value("todo_api_event_streams_open")).toBe(0);
      expect(await value("process_resident_memory_bytes")).toBeGreaterThan(0);
      expect(await value("nodejs_eventloop_lag_p99_seconds")).toBeGreaterThan(0);
      if (database.kind === "postgres") {
        expect(await value("db_client_connection_max")).toBe(POOL_MAX);
        expect(await value('db_client_connection_count{db_client_connection_state="used"}')).toBe(0);
      }
    }, 60_000);
  },
);
