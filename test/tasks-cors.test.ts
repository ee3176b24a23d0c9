// Cross-origin calls from the frontend, per the contract: listed origins only, with credentials,
// the task methods, Authorization and Content-Type, and X-Total-Count/Location exposed, on
// successful and error answers alike. A refused origin gets no Access-Control-Allow-Origin.
import { beforeAll, describe, expect, test } from "bun:test";
import { driver, send, tokenFor, useTestApp } from "./helpers.ts";

const allowed = ["http://localhost:3000", "https://todo.example"];
const ctx = useTestApp({ corsOrigins: allowed });
let token: string;
let taskId: string;

beforeAll(async () => {
  token = await tokenFor("cora");
  const created = await send(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "shared" } });
  taskId = (created.body as { id: string }).id;
}, 60_000);

function preflight(origin: string, path: string, method: string) {
  return send(ctx.app, {
    method: "OPTIONS",
    path,
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": "authorization, content-type",
    },
  });
}

const routes = () =>
  [
    ["GET", "/api/tasks"],
    ["POST", "/api/tasks"],
    ["GET", `/api/tasks/${taskId}`],
    ["PUT", `/api/tasks/${taskId}`],
    ["PATCH", `/api/tasks/${taskId}`],
    ["DELETE", `/api/tasks/${taskId}`],
    ["PATCH", `/api/tasks/${taskId}/complete`],
    ["PATCH", `/api/cora/tasks/${taskId}/complete`],
  ] as const;

describe(`CORS (${driver})`, () => {
  test.each(allowed)("a preflight from %s is allowed for every route, with credentials", async (origin) => {
    for (const [method, path] of routes()) {
      const response = await preflight(origin, path, method);
      expect([method, path, response.status]).toEqual([method, path, 204]);
      expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      expect(response.headers.get("access-control-allow-credentials")).toBe("true");
      expect(response.headers.get("access-control-allow-methods")).toContain(method);
      const headers = response.headers.get("access-control-allow-headers")!.toLowerCase();
      expect(headers).toContain("authorization");
      expect(headers).toContain("content-type");
      expect(response.headers.get("vary")).toContain("Origin");
    }
  });

  test.each(["http://evil.example", "http://localhost:3001", "https://todo.example.evil.example", "null"])(
    "a preflight from %s gets no Access-Control-Allow-Origin",
    async (origin) => {
      const response = await preflight(origin, "/api/tasks", "POST");
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
    },
  );

  test("a preflight needs no token", async () => {
    const response = await preflight(allowed[0]!, `/api/tasks/${taskId}`, "DELETE");
    expect(response.status).toBe(204);
    expect(response.headers.get("www-authenticate")).toBeNull();
  });

  test("a list answer allows the origin and exposes X-Total-Count", async () => {
    const response = await send(ctx.app, { path: "/api/tasks", token, headers: { origin: allowed[1]! } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(allowed[1]!);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    const exposed = response.headers.get("access-control-expose-headers")!.toLowerCase();
    expect(exposed).toContain("x-total-count");
    expect(exposed).toContain("location");
    expect(response.headers.get("x-total-count")).toBe("1");
  });

  test("a create answer exposes Location", async () => {
    const response = await send(ctx.app, {
      method: "POST",
      path: "/api/tasks",
      token,
      body: { title: "cors" },
      headers: { origin: allowed[0]! },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("access-control-allow-origin")).toBe(allowed[0]!);
    expect(response.headers.get("access-control-expose-headers")!.toLowerCase()).toContain("location");
  });

  test.each([
    ["401", "GET", "/api/tasks", undefined, false],
    ["400", "POST", "/api/tasks", { title: "" }, true],
    ["400 (malformed JSON)", "POST", "/api/tasks", "{", true],
    ["403", "GET", "/api/someone-else/tasks", undefined, true],
    ["404", "GET", `/api/tasks/${crypto.randomUUID()}`, undefined, true],
    ["405", "DELETE", "/api/tasks", undefined, true],
  ] as const)("an error answer (%s) carries the CORS headers too", async (status, method, path, body, withToken) => {
    const response = await send(ctx.app, {
      method,
      path,
      token: withToken ? token : undefined,
      body,
      headers: { origin: allowed[0]! },
    });
    expect(String(response.status)).toBe(status.slice(0, 3));
    expect(response.headers.get("access-control-allow-origin")).toBe(allowed[0]!);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
  });

  test("an answer to a refused origin carries no Access-Control-Allow-Origin", async () => {
    const response = await send(ctx.app, { path: "/api/tasks", token, headers: { origin: "http://evil.example" } });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });
});
