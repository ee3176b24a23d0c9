// One JSON line per request, the request id on every response, and nothing secret in the logs.
import { describe, expect, test } from "bun:test";
import { createLogger } from "../src/http/log.ts";
import { driver, type SendOptions, send, TEST_SECRET, testBinary, tokenFor, useTestApp } from "./helpers.ts";

const lines: string[] = [];
const log = createLogger("debug", (line) => lines.push(line));
const ctx = useTestApp({ log });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Sends a request and returns its response with the log lines that carry its request id. */
async function logged(method: string, path: string, options: Omit<SendOptions, "method" | "path"> = {}) {
  const res = await send(ctx.app, { method, path, ...options });
  const id = res.headers.get("x-request-id");
  const mine = () =>
    lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.request_id === id);
  // onAfterResponse runs after the response is handed over.
  for (let waited = 0; waited < 1000 && !mine().some((e) => e.msg === "request"); waited += 5) await Bun.sleep(5);
  const entries = mine();
  return { res, entries, requestLines: entries.filter((e) => e.msg === "request") };
}

describe(`request log (${driver})`, () => {
  test("one line per request with time, level, id, method, route, status, duration; the id is echoed", async () => {
    const { res, requestLines } = await logged("GET", "/health");
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(UUID);
    expect(requestLines).toHaveLength(1);
    const [line] = requestLines;
    expect(Object.keys(line!).sort()).toEqual([
      "duration_ms",
      "level",
      "method",
      "msg",
      "request_id",
      "route",
      "status",
      "time",
      "user_id",
    ]);
    expect(line).toMatchObject({
      level: "info",
      request_id: id,
      method: "GET",
      route: "/health",
      status: 200,
      user_id: null,
    });
    expect(Date.parse(line!.time as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(line!.duration_ms).toBeGreaterThanOrEqual(0);
  });

  test("a well-formed incoming X-Request-Id is kept", async () => {
    for (const incoming of ["abc", "req-2026.11.21_0001", "x".repeat(128)]) {
      const { res, requestLines } = await logged("GET", "/health", { headers: { "x-request-id": incoming } });
      expect(res.headers.get("x-request-id")).toBe(incoming);
      expect(requestLines[0]!.request_id).toBe(incoming);
    }
  });

  test("a malformed incoming X-Request-Id is replaced, never echoed", async () => {
    for (const incoming of ["x".repeat(129), "has space", 'quote"', "new\\nline", "<script>", "ünïcode"]) {
      const { res, requestLines } = await logged("GET", "/health", { headers: { "x-request-id": incoming } });
      const id = res.headers.get("x-request-id");
      expect(id).toMatch(UUID);
      expect(requestLines[0]!.request_id).toBe(id);
    }
  });

  test("ids differ between requests", async () => {
    const ids = new Set<string | null>();
    for (let i = 0; i < 20; i++) ids.add((await logged("GET", "/health")).res.headers.get("x-request-id"));
    expect(ids.size).toBe(20);
  });

  test("error responses carry the id and are logged with the status the client got", async () => {
    const token = await tokenFor("log-user-errors");
    const cases: {
      method: string;
      path: string;
      options?: Omit<SendOptions, "method" | "path">;
      status: number;
      route: string | null;
    }[] = [
      { method: "GET", path: "/nowhere", status: 404, route: null },
      { method: "DELETE", path: "/health", status: 405, route: null },
      // Refused before routing (src/auth/plugin.ts), so no route is known.
      { method: "GET", path: "/api/tasks", status: 401, route: null },
      { method: "GET", path: "/api/tasks", options: { token: "not.a.jwt" }, status: 401, route: null },
      { method: "POST", path: "/api/tasks", options: { token, body: "{not json" }, status: 400, route: "/api/tasks" },
      { method: "POST", path: "/api/tasks", options: { token, body: { title: "" } }, status: 400, route: "/api/tasks" },
      { method: "GET", path: "/api/tasks?limit=0", options: { token }, status: 400, route: "/api/tasks" },
      {
        method: "GET",
        path: `/api/tasks/${crypto.randomUUID()}`,
        options: { token },
        status: 404,
        route: "/api/tasks/:id",
      },
      { method: "GET", path: "/api/someone-else/tasks", options: { token }, status: 403, route: "/api/:user_id/tasks" },
    ];
    // A Content-Length that lies only reaches app.handle(); over the wire (the binary pass) Bun's
    // listener answers it itself, before the app and its log (test/http-limits.test.ts).
    if (!testBinary) {
      cases.push({
        method: "POST",
        path: "/api/tasks",
        options: { token, body: "x", headers: { "content-length": String(10 * 1024 * 1024) } },
        status: 413,
        route: null,
      });
    }
    for (const c of cases) {
      const { res, requestLines } = await logged(c.method, c.path, c.options);
      expect({ case: `${c.method} ${c.path}`, status: res.status }).toEqual({
        case: `${c.method} ${c.path}`,
        status: c.status,
      });
      expect(res.headers.get("content-type")).toStartWith("application/json");
      const id = res.headers.get("x-request-id");
      expect(id).toMatch(UUID);
      expect(requestLines).toHaveLength(1);
      expect(requestLines[0]).toMatchObject({ request_id: id, method: c.method, status: c.status, level: "info" });
      // The route pattern, never the raw path with its ids and query string; none when no route matched.
      expect(requestLines[0]!.route).toBe(c.route);
    }
  });

  test("a CORS preflight gets its line too, answered before routing (no route), and the id", async () => {
    for (const origin of ["http://localhost:3000", "https://elsewhere.example"]) {
      const { res, requestLines } = await logged("OPTIONS", "/api/tasks", {
        headers: {
          origin,
          "access-control-request-method": "PATCH",
          "access-control-request-headers": "authorization, if-match",
          "x-request-id": `preflight-${origin.length}`,
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get("x-request-id")).toBe(`preflight-${origin.length}`);
      expect(requestLines).toHaveLength(1);
      expect(requestLines[0]).toMatchObject({
        level: "info",
        request_id: `preflight-${origin.length}`,
        method: "OPTIONS",
        route: null,
        status: 204,
        user_id: null,
      });
      expect(requestLines[0]!.duration_ms).toBeGreaterThanOrEqual(0);
    }
  });

  test("an authenticated request logs the user id and the route pattern, not the path", async () => {
    const token = await tokenFor("log-user-1");
    const created = await send(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "logged" } });
    expect(created.status).toBe(201);
    const { id } = created.body as { id: string };
    const { res, requestLines } = await logged("GET", `/api/tasks/${id}`, { token });
    expect(res.status).toBe(200);
    expect(requestLines[0]).toMatchObject({ route: "/api/tasks/:id", status: 200, user_id: "log-user-1" });
    const list = await logged("GET", "/api/log-user-1/tasks?q=secret-search", { token });
    expect(list.requestLines[0]).toMatchObject({ route: "/api/:user_id/tasks", status: 200, user_id: "log-user-1" });
  });

  test("a 204 without a body is logged as 204", async () => {
    const token = await tokenFor("log-user-2");
    const created = await send(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "to delete" } });
    const { id } = created.body as { id: string };
    const { res, requestLines } = await logged("DELETE", `/api/tasks/${id}`, { token });
    expect(res.status).toBe(204);
    expect(requestLines[0]).toMatchObject({ status: 204, route: "/api/tasks/:id", user_id: "log-user-2" });
  });

  test("no token, secret, body or query value ever reaches the log", async () => {
    const marker = `body-marker-${crypto.randomUUID()}`;
    const valid = await tokenFor("log-user-3");
    const expired = await tokenFor("log-user-3", { exp: Math.floor(Date.now() / 1000) - 3600 });
    const forged = await tokenFor("log-user-3", {}, "another-secret-that-is-long-enough-too!!");
    for (const token of [valid, expired, forged]) {
      await logged("POST", "/api/tasks", { token, body: { title: marker, description: marker } });
      await logged("POST", "/api/tasks", { token, body: `{"title": "${marker}"` });
      await logged("GET", `/api/tasks?q=${marker}&limit=${marker}`, { token });
      await logged("PATCH", `/api/tasks/${marker}`, { token, body: { title: marker } });
      await logged("GET", `/${marker}`, { token });
    }
    const all = lines.join("\n");
    expect(lines.length).toBeGreaterThan(15);
    for (const secret of [valid, expired, forged, TEST_SECRET, marker, valid.split(".")[2]!]) {
      expect(all).not.toContain(secret);
    }
  });
});
