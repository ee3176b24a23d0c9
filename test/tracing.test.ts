// Traces as a collector receives them: a small OTLP/HTTP receiver on loopback takes what the
// service exports (in process, or the compiled binary in the suite's binary mode) and the test reads
// the spans: one per request with its route and status, its SQL statements and token verification
// as children, a caller's traceparent continued, the trace id in the response, and nothing of a
// token, a body or a query's parameters anywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app.ts";
import { createTokenVerifier } from "../src/auth/verify.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/http/log.ts";
import { enableTracing, stopTracing } from "../src/observability/tracing.ts";
import {
  freshDatabase,
  send,
  TEST_SECRET,
  type TestDatabase,
  testApp,
  testBinary,
  testEvents,
  tokenFor,
} from "./helpers.ts";
import { startService } from "./support/service.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
  status?: { code?: number };
}

const SERVER = 2;
const CLIENT = 3;

/** An OTLP/HTTP collector of spans (JSON encoding), on loopback. */
function startReceiver() {
  const bodies: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces")
        return new Response(null, { status: 404 });
      bodies.push(await request.text());
      return Response.json({});
    },
  });
  const spans = () =>
    bodies.flatMap((body) =>
      (JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((r) =>
        r.scopeSpans.flatMap((s) => s.spans),
      ),
    );
  return { url: server.url.origin, bodies, spans, stop: () => server.stop(true) };
}

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

type Handler = Parameters<typeof send>[0];

/** The service exporting to `endpoint` with OTEL_* variables `env`; stop() flushes what it holds. */
async function tracedService(database: TestDatabase, env: Record<string, string>) {
  if (testBinary) {
    if (!database.env) throw new Error("TEST_BINARY needs TEST_DATABASE_URL");
    const server = await startService({ ...database.env, ...env, BETTER_AUTH_SECRET: TEST_SECRET });
    const handle = (request: Request) => {
      const { pathname, search } = new URL(request.url);
      return fetch(new Request(server.url + pathname + search, request));
    };
    return { app: { handle } as Handler, stop: () => server.stop() };
  }
  // The variables go through loadConfig, as the process reads them.
  enableTracing(loadConfig({ ...env, NODE_ENV: "test" }).tracing!, "test");
  const log = createLogger("silent");
  const events = testEvents(database, log);
  const app = createApp({
    config: { corsOrigins: ["http://localhost:3000"] },
    database,
    verifyToken: createTokenVerifier({ secret: TEST_SECRET }),
    log,
    events,
  });
  return {
    app: app as Handler,
    stop: async () => {
      // Elysia ends a request (onAfterResponse, where its span ends) in a setImmediate.
      await new Promise((resolve) => setImmediate(resolve));
      await stopTracing();
      await events.close();
    },
  };
}

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const USER = "tracing-user-b7e1";
const TITLE = "secret title 5d9c";
const QUERY = "secret query 81fa";

describe("traces over OTLP/HTTP", () => {
  const receiver = startReceiver();
  let database: TestDatabase;
  let token: string;
  const answers: { created?: Response; read?: Response; unsampled?: Response; missing?: Response } = {};
  let taskId: string;

  beforeAll(async () => {
    database = await freshDatabase();
    token = await tokenFor(USER);
    const service = await tracedService(database, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    const call = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
      service.app.handle(
        new Request(`http://localhost${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
    answers.created = await call(
      "POST",
      "/api/tasks",
      { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, origin: "http://localhost:3000" },
      { title: TITLE, description: TITLE },
    );
    taskId = ((await answers.created.clone().json()) as { id: string }).id;
    answers.read = await call("GET", `/api/${USER}/tasks/${taskId}`);
    await call("GET", `/api/tasks?q=${encodeURIComponent(QUERY)}&status=pending`);
    // The caller decided not to sample this trace: parent-based sampling follows it.
    answers.unsampled = await call("GET", "/api/tasks", {
      traceparent: `00-${"1".repeat(32)}-${CALLER_SPAN}-00`,
    });
    answers.missing = await call("GET", `/api/tasks/${crypto.randomUUID()}`, {
      traceparent: `00-${"2".repeat(32)}-${CALLER_SPAN}-00`,
    });
    await service.stop();
  }, 60_000);

  afterAll(async () => {
    await receiver.stop();
    await database?.close();
  });

  test("a server span per request, named by method and route pattern, with its status", () => {
    const servers = receiver.spans().filter((s) => s.kind === SERVER);
    expect(servers.map((s) => [s.name, attribute(s, "http.route"), attribute(s, "http.response.status_code")])).toEqual(
      [
        ["POST /api/tasks", "/api/tasks", 201],
        ["GET /api/:user_id/tasks/:id", "/api/:user_id/tasks/:id", 200],
        ["GET /api/tasks", "/api/tasks", 200],
      ],
    );
    for (const span of servers) expect(attribute(span, "http.request.method")).toBe(span.name.split(" ")[0]!);
  });

  test("an incoming traceparent continues the caller's trace, and the response names the trace", () => {
    const [created, read] = receiver.spans().filter((s) => s.kind === SERVER);
    expect(created!.traceId).toBe(CALLER_TRACE);
    expect(created!.parentSpanId).toBe(CALLER_SPAN);
    expect(answers.created!.headers.get("traceresponse")).toBe(`00-${CALLER_TRACE}-${created!.spanId}-01`);
    expect(read!.traceId).not.toBe(CALLER_TRACE);
    expect(read!.parentSpanId ?? "").toBe("");
    expect(answers.read!.headers.get("traceresponse")).toBe(`00-${read!.traceId}-${read!.spanId}-01`);
    // A frontend's fetch can read it.
    expect(answers.created!.headers.get("access-control-expose-headers")?.split(/,\s*/)).toContain("traceresponse");
  });

  test("a caller's unsampled trace exports nothing, and its response still names the trace", () => {
    expect(answers.unsampled!.headers.get("traceresponse")).toStartWith(`00-${"1".repeat(32)}-`);
    expect(answers.unsampled!.headers.get("traceresponse")).toEndWith("-00");
    expect(receiver.spans().filter((s) => s.traceId === "1".repeat(32))).toEqual([]);
  });

  test("an error answer names its trace too", () => {
    expect(answers.missing!.status).toBe(404);
    expect(answers.missing!.headers.get("traceresponse")).toMatch(new RegExp(`^00-${"2".repeat(32)}-[0-9a-f]{16}-00$`));
  });

  test("token verification and every SQL statement are children of the request's span, with SQL text only", () => {
    const spans = receiver.spans();
    for (const server of spans.filter((s) => s.kind === SERVER)) {
      const children = spans.filter((s) => s.parentSpanId === server.spanId);
      expect(children.every((c) => c.traceId === server.traceId)).toBe(true);
      expect(children.filter((c) => c.name === "verify token")).toHaveLength(1);
      const statements = children.filter((c) => c.kind === CLIENT);
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        expect(attribute(statement, "db.system.name")).toBe("postgresql");
        const text = String(attribute(statement, "db.query.text"));
        expect(statement.name).toBe(text.split(/\s/)[0]!.toUpperCase());
        expect(text).toMatch(/\$1/);
      }
    }
    const create = spans.find((s) => s.name === "POST /api/tasks")!;
    const inserts = spans.filter((s) => s.parentSpanId === create.spanId && s.name === "INSERT");
    expect(inserts.length).toBeGreaterThan(0);
  });

  test("no token, body, path id or query parameter appears anywhere in what was exported", () => {
    const exported = receiver.bodies.join("\n");
    expect(exported.length).toBeGreaterThan(0);
    for (const secret of [token, token.split(".")[2]!, TITLE, QUERY, encodeURIComponent(QUERY), USER, taskId])
      expect({ secret, found: exported.includes(secret) }).toEqual({ secret, found: false });
  });
});

describe.skipIf(testBinary !== undefined)("without OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  test("no trace header and no span: tracing is off", async () => {
    const { app, close } = await testApp();
    try {
      const answer = await send(app, { path: "/api/tasks", token: await tokenFor("someone") });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("traceresponse")).toBeNull();
    } finally {
      await close();
    }
  });
});
