// Authentication with the shared secret (HS256/384/512), through HTTP: every hostile token gets
// the contract's exact 401, a request without a valid token gets 401 before anything else, and
// the users table is filled from verified claims only.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { users } from "../src/db/schema.ts";
import { type Answer, driver, send, TEST_SECRET, testBinary, tokenFor, useTestApp } from "./helpers.ts";

const ctx = useTestApp({ auth: { secret: TEST_SECRET } });

const now = () => Math.floor(Date.now() / 1000);
const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

function sign(payload: JWTPayload, alg = "HS256", secret = TEST_SECRET) {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

function expectUnauthorized(answer: Answer, detail: string) {
  expect(answer.status).toBe(401);
  expect(answer.headers.get("www-authenticate")).toBe(
    detail === "Missing authentication token" ? "Bearer" : 'Bearer error="invalid_token"',
  );
  expect(answer.headers.get("content-type")).toBe("application/json");
  expect(answer.body).toEqual({ detail });
}

const get = (headers: Record<string, string>) => send(ctx.app, { path: "/api/tasks", headers });
const withToken = async (token: string | Promise<string>) => get({ authorization: `Bearer ${await token}` });

async function userRows() {
  return ctx.db.select({ id: users.id, email: users.email, name: users.name }).from(users).orderBy(users.id);
}

describe(`authentication with the shared secret (${driver})`, () => {
  test.each([
    ["no Authorization header", {}],
    ["another scheme", { authorization: "Basic dXNlcjpwYXNzd29yZA==" }],
    ["Bearer and nothing else", { authorization: "Bearer " }],
    ["a token without a scheme", { authorization: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln" }],
  ])("%s: 401 Missing authentication token", async (_, headers) => {
    expectUnauthorized(await get(headers), "Missing authentication token");
  });

  test.each([
    ["garbage", async () => "not-a-jwt"],
    ["two tokens", async () => `${await tokenFor("alice")} ${await tokenFor("alice")}`],
    [
      "a tampered payload",
      async () => {
        const [header, , signature] = (await tokenFor("alice")).split(".");
        return `${header}.${encode({ sub: "mallory", exp: now() + 3600 })}.${signature}`;
      },
    ],
    ["the wrong secret", () => tokenFor("alice", {}, "another-secret-of-at-least-32-bytes-long")],
    ["alg none", async () => `${encode({ alg: "none", typ: "JWT" })}.${encode({ sub: "alice", exp: now() + 3600 })}.`],
    [
      "alg none with a signature",
      async () =>
        `${encode({ alg: "none" })}.${encode({ sub: "alice", exp: now() + 3600 })}.${(await tokenFor("alice")).split(".")[2]}`,
    ],
    [
      "an unsupported HMAC-looking alg",
      async () => `${encode({ alg: "HS1" })}.${encode({ sub: "alice", exp: now() + 3600 })}.c2ln`,
    ],
    ["nbf 5 minutes ahead", () => sign({ sub: "alice", exp: now() + 3600, nbf: now() + 300 })],
    ["no sub", () => sign({ exp: now() + 3600 })],
    ["an empty sub", () => sign({ sub: "", exp: now() + 3600 })],
    ["a numeric sub", () => sign({ sub: 42 as unknown as string, exp: now() + 3600 })],
    ["no exp", () => sign({ sub: "alice" })],
    [
      "an EdDSA token while no key set is configured",
      async () => {
        const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
        return new SignJWT({ sub: "alice" })
          .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
          .setExpirationTime("1h")
          .sign(privateKey);
      },
    ],
    [
      "a correctly signed 12 KB token (over our 8 KB cap, under Bun's 16 KiB header limit)",
      () => sign({ sub: "alice", exp: now() + 3600, padding: "x".repeat(9 * 1024) }),
    ],
  ])("%s: 401 Invalid token", async (_, token) => {
    expectUnauthorized(await withToken(token()), "Invalid token");
  });

  test("a correctly signed 100 KB token: 401 Invalid token", async () => {
    const response = await withToken(sign({ sub: "alice", exp: now() + 3600, padding: "x".repeat(100 * 1024) }));
    // Over HTTP (the binary), Bun's 16 KiB limit on request headers answers first.
    if (testBinary) expect(response.status).toBe(431);
    else expectUnauthorized(response, "Invalid token");
  });

  test("expired more than 60 s ago: 401 Token has expired", async () => {
    expectUnauthorized(await withToken(sign({ sub: "alice", exp: now() - 120 })), "Token has expired");
  });

  test("a bad signature is reported as invalid even when the token has expired too", async () => {
    expectUnauthorized(
      await withToken(tokenFor("alice", { exp: now() - 120 }, "another-secret-of-at-least-32-bytes-long")),
      "Invalid token",
    );
  });

  test("not one of those requests wrote a user", async () => {
    expect(await userRows()).toEqual([]);
  });

  test.each(["HS256", "HS384", "HS512"])("%s with the secret is accepted", async (alg) => {
    const response = await withToken(sign({ sub: `user-${alg}`, exp: now() + 60 }, alg));
    expect(response.status).toBe(200);
  });

  test("60 s of clock skew is tolerated on exp and nbf", async () => {
    expect((await withToken(sign({ sub: "skewed", exp: now() - 30 }))).status).toBe(200);
    expect((await withToken(sign({ sub: "skewed", exp: now() + 3600, nbf: now() + 30 }))).status).toBe(200);
  });

  test("the scheme is case-insensitive and surrounding spaces are ignored", async () => {
    expect((await get({ authorization: `bearer   ${await tokenFor("spaces")}  ` })).status).toBe(200);
  });
});

describe(`authentication comes before anything else (${driver})`, () => {
  const garbage = { authorization: "Bearer garbage" };
  test.each([
    ["POST /api/tasks with a valid body", "POST", "/api/tasks", { title: "x" }],
    ["POST /api/tasks with an invalid body", "POST", "/api/tasks", { title: 7 }],
    ["POST /api/tasks with malformed JSON", "POST", "/api/tasks", "{not json"],
    ["GET /api/tasks with an invalid query", "GET", "/api/tasks?limit=abc&status=nope", undefined],
    [
      "GET /api/tasks/:id of a task that does not exist",
      "GET",
      "/api/tasks/6e38eb30-9039-4a7c-b64e-bca990ef7571",
      undefined,
    ],
    ["GET /api/:user_id/tasks of someone else", "GET", "/api/someone-else/tasks", undefined],
    ["a path no route matches", "GET", "/api/no/such/route", undefined],
    ["the bare prefix", "GET", "/api", undefined],
    ["a wrong method on a known route", "DELETE", "/api/tasks", undefined],
  ])("%s: 401 without a token, 401 with a bad one", async (_, method, path, body) => {
    expectUnauthorized(await send(ctx.app, { method, path, body }), "Missing authentication token");
    expectUnauthorized(await send(ctx.app, { method, path, body, headers: garbage }), "Invalid token");
  });

  test("none of them created a task or a user", async () => {
    const token = await tokenFor("checker");
    const list = await send(ctx.app, { path: "/api/tasks", token });
    expect(list.body).toEqual([]);
    expect((await userRows()).map((u) => u.id)).not.toContain("someone-else");
  });

  test("with a valid token the same requests get their own answers", async () => {
    const token = await tokenFor("curious");
    const answer = async (method: string, path: string, body?: unknown) => {
      const response = await send(ctx.app, { method, path, token, body });
      return [response.status, response.body];
    };
    expect(await answer("GET", "/api/no/such/route")).toEqual([404, { detail: "Not found" }]);
    expect(await answer("POST", "/api/tasks", "{not json")).toEqual([
      400,
      { detail: "Request body is not valid JSON" },
    ]);
    const wrongMethod = await send(ctx.app, { method: "DELETE", path: "/api/tasks", token });
    expect(wrongMethod.status).toBe(405);
  });

  test("/health and /docs need no token", async () => {
    expect((await send(ctx.app, { path: "/health" })).status).toBe(200);
    expect((await send(ctx.app, { path: "/docs/json" })).status).toBe(200);
  });

  test("a CORS preflight to /api needs no token", async () => {
    const response = await send(ctx.app, {
      method: "OPTIONS",
      path: "/api/tasks",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
  });
});

describe(`users from verified claims (${driver})`, () => {
  const row = async (id: string) => (await ctx.db.select().from(users).where(eq(users.id, id)))[0];

  test("the first request writes the user's id, email and name", async () => {
    const response = await withToken(
      tokenFor("PRFtYahHnGm9bx6StXSFrO1NfZEEy1Xj", { email: "ada@example.com", name: "Ada" }),
    );
    expect(response.status).toBe(200);
    expect(await row("PRFtYahHnGm9bx6StXSFrO1NfZEEy1Xj")).toMatchObject({ email: "ada@example.com", name: "Ada" });
  });

  test("an authenticated request to a path no route matches registers the user too", async () => {
    const response = await send(ctx.app, { path: "/api/nowhere", token: await tokenFor("wanderer", { name: "W" }) });
    expect(response.status).toBe(404);
    expect(await row("wanderer")).toMatchObject({ email: null, name: "W" });
  });

  test("new claim values are written; the same claims again change nothing", async () => {
    const id = "changing-user";
    await withToken(tokenFor(id, { email: "old@example.com", name: "Old" }));
    const first = await row(id);
    await withToken(tokenFor(id, { email: "new@example.com", name: "New" }));
    const second = await row(id);
    expect(second).toMatchObject({ email: "new@example.com", name: "New", createdAt: first!.createdAt });
    await withToken(tokenFor(id, { email: "new@example.com", name: "New" }));
    expect(await row(id)).toEqual(second!);
  });

  test("a token without email or name keeps the stored ones", async () => {
    const id = "bare-token-user";
    await withToken(tokenFor(id, { email: "kept@example.com", name: "Kept" }));
    const before = await row(id);
    expect((await withToken(tokenFor(id))).status).toBe(200);
    // Not even updated_at moved: the upsert saw nothing new.
    expect(await row(id)).toEqual(before!);
  });

  test("concurrent first requests of one user all succeed and write one row", async () => {
    const token = await tokenFor("stampede", { email: "s@example.com" });
    const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await withToken(token)).status));
    expect(statuses).toEqual(Array(20).fill(200));
    expect((await ctx.db.select().from(users).where(eq(users.id, "stampede"))).length).toBe(1);
  });
});
