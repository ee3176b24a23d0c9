// The ten cases of issue 10, each through HTTP as a careless client or an attacker would send it:
// each was a 500, a silent change, a merge of two users or a page that needs the internet.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { generateKeyPair, SignJWT } from "jose";
import { users } from "../src/db/schema.ts";
import { createLogger } from "../src/http/log.ts";
import { TEXT_RULE } from "../src/http/text.ts";
import { driver, send, TEST_SECRET, testApp, tokenFor, useTestApp } from "./helpers.ts";
import { expectContractError, nowSeconds, signRawPayload } from "./hostile-helpers.ts";
import { createTask, fingerprint, unchanged } from "./tasks-helpers.ts";

const lines: string[] = [];
const ctx = useTestApp({ log: createLogger("debug", (line) => lines.push(line)) });
const ORIGIN = "http://localhost:3000";

const userRow = async (id: string) => (await ctx.db.select().from(users).where(eq(users.id, id)))[0];

/** A refused request: the contract's error, and nothing written. */
async function refused(options: Parameters<typeof send>[1]) {
  const answer = await unchanged(ctx.db, () => send(ctx.app, options));
  expectContractError(answer, `${options.method ?? "GET"} ${options.path}`);
  return answer;
}

const fieldsOf = (body: unknown) => (body as { errors?: { field: string }[] }).errors?.map((e) => e.field);

describe(`1 and 8: text with NUL or an unpaired surrogate is a 400 naming the field (${driver})`, () => {
  for (const [name, bad] of [
    ["NUL", "a\u0000b"],
    ["a lone high surrogate", "\ud800X"],
    ["a lone low surrogate", "X\udc00"],
    ["a reversed pair", "\udc00\ud800"],
  ] as const) {
    test(`${name} in title or description, on create and update; in q`, async () => {
      const token = await tokenFor("text-user");
      const task = await createTask(ctx.app, token);
      for (const [method, path] of [
        ["POST", "/api/tasks"],
        ["PATCH", `/api/tasks/${task.id}`],
        ["PUT", `/api/text-user/tasks/${task.id}`],
      ] as const) {
        for (const field of ["title", "description"]) {
          const answer = await refused({ method, path, token, body: { title: "fine", [field]: bad } });
          expect(answer.status).toBe(400);
          expect(answer.body).toEqual({ detail: "Invalid request body", errors: [{ field, message: TEXT_RULE }] });
        }
      }
      // A URL cannot carry an unpaired surrogate (encodeURIComponent throws): only NUL reaches q.
      if (!bad.isWellFormed()) return;
      const answer = await refused({ path: `/api/tasks?q=${encodeURIComponent(bad)}`, token });
      expect(answer.body).toEqual({ detail: "Invalid query parameter", errors: [{ field: "q", message: TEXT_RULE }] });
    });
  }

  test("a lone surrogate can only arrive in q as bytes that are not UTF-8: never stored as U+FFFD", async () => {
    const token = await tokenFor("text-user");
    const answer = await send(ctx.app, { path: "/api/tasks?q=%ED%A0%80X", token });
    expect(answer.status).toBeLessThan(500);
    expect(answer.headers.get("x-request-id")).toBeTruthy();
  });

  // PGlite 0.5.16 decodes every text value it returns with a TextDecoder that drops a leading U+FEFF
  // as a byte-order mark (the row keeps it): marked failing there, so a fixed PGlite shows up here.
  (driver === "pglite" ? test.failing : test)("a leading U+FEFF is kept, in a description and a sub", async () => {
    const token = await tokenFor("\ufeffbom-user");
    const task = await createTask(ctx.app, token, { description: "\ufeffdescribed" });
    expect(task.description).toBe("\ufeffdescribed");
    expect(task.user_id).toBe("\ufeffbom-user");
  });

  test("well-formed text outside ASCII is kept exactly: pairs, RTL marks, U+FFFD itself", async () => {
    const token = await tokenFor("text-user");
    const title = "\u200f\u05e9\u05dc\u05d5\u05dd 😀 \ufffd\u202e";
    const task = await createTask(ctx.app, token, { title, description: "é\u0301 \u{10ffff}" });
    expect(task.title).toBe(title);
    expect(task.description).toBe("é\u0301 \u{10ffff}");
  });
});

describe(`2: a value whose toString is not a function is a JSON 400 (${driver})`, () => {
  test('{"title":{"toString":1}} on POST and PATCH: JSON 400, request id, CORS headers, a request-log line', async () => {
    const token = await tokenFor("odd-user");
    const task = await createTask(ctx.app, token);
    for (const [method, path] of [
      ["POST", "/api/tasks"],
      ["PATCH", `/api/tasks/${task.id}`],
    ] as const) {
      const answer = await refused({
        method,
        path,
        token,
        body: '{"title":{"toString":1}}',
        headers: { origin: ORIGIN },
      });
      expect(answer.status).toBe(400);
      expect(fieldsOf(answer.body)).toEqual(["title"]);
      expect(answer.headers.get("access-control-allow-origin")).toBe(ORIGIN);
      const id = answer.headers.get("x-request-id");
      const logged = () =>
        lines.some((line) => line.includes(`"request_id":"${id}"`) && line.includes('"msg":"request"'));
      for (let waited = 0; waited < 2000 && !logged(); waited += 10) await Bun.sleep(10);
      expect(logged()).toBe(true);
    }
  });

  test("every field given an object with odd toString/valueOf, an array, a number or a boolean: 400 naming it", async () => {
    const token = await tokenFor("odd-user");
    const task = await createTask(ctx.app, token);
    const odd = [
      '{"toString":1}',
      '{"valueOf":1,"toString":null}',
      '{"toString":{"toString":1}}',
      "[[1]]",
      "1e400",
      "true",
    ];
    for (const field of ["title", "description", "completed", "priority", "due_date"]) {
      for (const value of odd) {
        if (field === "completed" && value === "true") continue;
        const body = field === "title" ? `{"title":${value}}` : `{"title":"t","${field}":${value}}`;
        for (const [method, path] of [
          ["POST", "/api/tasks"],
          ["PATCH", `/api/tasks/${task.id}`],
        ] as const) {
          const answer = await refused({ method, path, token, body });
          expect(answer.status, body).toBe(400);
          expect(fieldsOf(answer.body), body).toEqual([field]);
        }
      }
    }
    const completion = await refused({
      method: "PATCH",
      path: `/api/tasks/${task.id}/complete`,
      token,
      body: '{"completed":{"toString":1}}',
    });
    expect(fieldsOf(completion.body)).toEqual(["completed"]);
  });
});

describe(`3: prototype keys never set a field (${driver})`, () => {
  test("fields nested under __proto__, constructor or prototype are ignored, at any depth, on create and update", async () => {
    const token = await tokenFor("proto-user");
    for (const body of [
      '{"title":"p","__proto__":{"completed":true,"priority":"high"}}',
      '{"title":"p","constructor":{"prototype":{"completed":true,"priority":"high"}}}',
      '{"title":"p","prototype":{"completed":true,"priority":"high"}}',
      '{"title":"p","__pro\\u0074o__":{"completed":true,"priority":"high"}}',
      '{"title":"p","x":{"__proto__":{"completed":true}},"__proto__":{"__proto__":{"priority":"high"}}}',
    ]) {
      const created = await send<Record<string, unknown>>(ctx.app, { method: "POST", path: "/api/tasks", token, body });
      expect(created.status, body).toBe(201);
      expect(created.body, body).toMatchObject({ title: "p", completed: false, priority: null, description: null });
      const id = created.body.id as string;
      const updated = await send<Record<string, unknown>>(ctx.app, {
        method: "PATCH",
        path: `/api/tasks/${id}`,
        token,
        body: body.replace('"title":"p"', '"description":"d"'),
      });
      expect(updated.status, body).toBe(200);
      expect(updated.body, body).toMatchObject({ title: "p", description: "d", completed: false, priority: null });
    }
  });

  test("a body that is only prototype keys creates nothing: the title is missing", async () => {
    const token = await tokenFor("proto-user");
    const answer = await refused({ method: "POST", path: "/api/tasks", token, body: '{"__proto__":{"title":"p"}}' });
    expect(answer.body).toEqual({
      detail: "Invalid request body",
      errors: [{ field: "title", message: "is required" }],
    });
  });
});

describe(`4 and 7: a sub that is not claim text is an invalid token (${driver})`, () => {
  test('subs differing only by an unpaired surrogate ("\\ud800X", "\\udbffX") are refused, not merged as "\\ufffdX"', async () => {
    const owner = await tokenFor("\ufffdX");
    const task = await createTask(ctx.app, owner);
    for (const sub of ["\ud800X", "\udbffX", "X\udfff"]) {
      const token = await tokenFor(sub);
      for (const [method, path] of [
        ["GET", "/api/tasks"],
        ["GET", `/api/tasks/${task.id}`],
        ["DELETE", `/api/tasks/${task.id}`],
      ] as const) {
        const answer = await refused({ method, path, token });
        expect(answer.status).toBe(401);
        expect(answer.body).toEqual({ detail: "Invalid token" });
      }
    }
    expect((await send(ctx.app, { path: `/api/tasks/${task.id}`, token: owner })).status).toBe(200);
  });

  test("sub: control characters, only whitespace, empty, not a string, bytes that are not UTF-8: 401", async () => {
    const exp = nowSeconds() + 600;
    const tokens = [
      ...["a\u0000b", "a\u0007b", "a\u007fb", "a\u0085b", "line\nbreak", " ", "\u3000\t", ""].map((sub) =>
        tokenFor(sub),
      ),
      signRawPayload(`{"sub":1,"exp":${exp}}`),
      signRawPayload(`{"sub":["a"],"exp":${exp}}`),
      signRawPayload(`{"sub":{"toString":1},"exp":${exp}}`),
      signRawPayload(`{"sub":null,"exp":${exp}}`),
      signRawPayload(`{"exp":${exp}}`),
      signRawPayload(Buffer.concat([Buffer.from('{"sub":"a'), Buffer.from([0xff]), Buffer.from(`","exp":${exp}}`)])),
    ];
    for (const token of await Promise.all(tokens)) {
      const answer = await refused({ path: "/api/tasks", token });
      expect(answer.body).toEqual({ detail: "Invalid token" });
    }
  });

  test("a sub of 3,000 or 256 characters is a 401; 255 works", async () => {
    for (const length of [3000, 256]) {
      const answer = await refused({ path: "/api/tasks", token: await tokenFor("s".repeat(length)) });
      expect(answer.body).toEqual({ detail: "Invalid token" });
    }
    const longest = "s".repeat(255);
    const task = await createTask(ctx.app, await tokenFor(longest));
    expect(task.user_id).toBe(longest);
  });

  test("email and name that are not claim text are not stored, and the token still works", async () => {
    const exp = nowSeconds() + 600;
    for (const [sub, claims] of [
      ["claims-a", `"email":"a\\u0000@example.com","name":"${"n".repeat(256)}"`],
      ["claims-b", `"email":{"toString":1},"name":"\\ud800"`],
      ["claims-c", `"email":["x@example.com"],"name":"   "`],
    ] as const) {
      const answer = await send(ctx.app, {
        path: "/api/tasks",
        token: signRawPayload(`{"sub":"${sub}","exp":${exp},${claims}}`),
      });
      expect(answer.status).toBe(200);
      expect(await userRow(sub)).toMatchObject({ id: sub, email: null, name: null });
    }
    const good = await send(ctx.app, {
      path: "/api/tasks",
      token: await tokenFor("claims-d", { email: "d@example.com", name: "Dé 😀" }),
    });
    expect(good.status).toBe(200);
    expect(await userRow("claims-d")).toMatchObject({ email: "d@example.com", name: "Dé 😀" });
  });
});

describe(`5: a user row deleted outside the service: nothing fails, and a write makes it again (${driver})`, () => {
  test("after the row is deleted, reads answer as for a new user and the next create makes the row again", async () => {
    const token = await tokenFor("erased-user", { email: "erased@example.com", name: "Erased" });
    const before = await createTask(ctx.app, token);
    await ctx.db.delete(users).where(eq(users.id, "erased-user")); // cascades to the tasks
    const list = await send(ctx.app, { path: "/api/tasks", token });
    expect([list.status, list.body]).toEqual([200, []]);
    const changes = await send<{ tasks: unknown[] }>(ctx.app, { path: "/api/tasks/changes", token });
    expect([changes.status, changes.body.tasks]).toEqual([200, []]);
    const update = await send(ctx.app, {
      method: "PATCH",
      path: `/api/tasks/${before.id}`,
      token,
      body: { title: "x" },
    });
    expect(update.status).toBe(404);
    const created = await send(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "again" } });
    expect(created.status).toBe(201);
    expect(await userRow("erased-user")).toMatchObject({ email: "erased@example.com", name: "Erased" });
  });

  test("a write with an Idempotency-Key makes the row again too", async () => {
    const token = await tokenFor("erased-keyed", { email: "keyed@example.com" });
    await createTask(ctx.app, token);
    await ctx.db.delete(users).where(eq(users.id, "erased-keyed"));
    const headers = { "idempotency-key": "after-erasure" };
    const body = { title: "again" };
    const created = await send(ctx.app, { method: "POST", path: "/api/tasks", token, body, headers });
    expect(created.status).toBe(201);
    const replayed = await send(ctx.app, { method: "POST", path: "/api/tasks", token, body, headers });
    expect([replayed.status, replayed.headers.get("idempotent-replayed")]).toEqual([201, "true"]);
    expect(await userRow("erased-keyed")).toMatchObject({ email: "keyed@example.com" });
  });
});

describe(`6: key-set refetches stay rate-limited while the auth server fails (${driver})`, () => {
  const answers: Record<string, (stopped: Promise<void>) => Response | Promise<Response>> = {
    "502": () => new Response("bad gateway", { status: 502 }),
    "an HTML page": () =>
      new Response("<html><body>Maintenance</body></html>", { headers: { "content-type": "text/html" } }),
    "JSON that is no key set": () => Response.json({ keys: "none" }),
    "a timeout": async (stopped) => {
      await stopped;
      return new Response("gone", { status: 503 });
    },
  };
  for (const [name, answer] of Object.entries(answers)) {
    test(`JWKS answering ${name}: 20 tokens with made-up kids make one fetch, each a 503; secret tokens still work`, async () => {
      const stop = Promise.withResolvers<void>();
      let fetches = 0;
      const jwks = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: () => {
          fetches++;
          return answer(stop.promise);
        },
      });
      const issuer = `http://127.0.0.1:${jwks.port}`;
      const app = await testApp({
        auth: { secret: TEST_SECRET, keySet: { jwksUrl: `${issuer}/jwks`, issuer, audience: issuer } },
      });
      try {
        const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
        const forged = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            new SignJWT({ sub: "mallory" })
              .setProtectedHeader({ alg: "EdDSA", kid: `made-up-${i}` })
              .setIssuer(issuer)
              .setAudience(issuer)
              .setExpirationTime("10m")
              .sign(privateKey),
          ),
        );
        const before = await fingerprint(app.db);
        const started = performance.now();
        // Half at once, half one after another.
        const answered = [
          ...(await Promise.all(forged.slice(0, 10).map((token) => send(app.app, { path: "/api/tasks", token })))),
        ];
        for (const token of forged.slice(10)) answered.push(await send(app.app, { path: "/api/tasks", token }));
        expect(performance.now() - started).toBeLessThan(5_000 * 2);
        for (const a of answered) {
          expect(a.headers.get("x-request-id")).toBeTruthy();
          expect(a.status).toBe(503);
          expect(a.body).toEqual({ detail: "Token verification unavailable" });
        }
        expect(fetches).toBe(1);
        expect((await send(app.app, { path: "/api/tasks", token: await tokenFor("secret-user") })).status).toBe(200);
        expect(fetches).toBe(1);
        expect(before).not.toBe(""); // the secret user's row is the only write
      } finally {
        stop.resolve();
        await app.close();
        await jwks.stop(true);
      }
    }, 30_000);
  }
});

describe(`9: exp, nbf and iat must be finite numbers; iat not in the future (${driver})`, () => {
  test("exp 1e400 or -1e400, a string exp, no exp, nbf 1e400, iat a year ahead: invalid tokens", async () => {
    const now = nowSeconds();
    const exp = now + 600;
    for (const payload of [
      '{"sub":"time-user","exp":1e400}',
      '{"sub":"time-user","exp":-1e400}',
      `{"sub":"time-user","exp":"${exp}"}`,
      '{"sub":"time-user"}',
      `{"sub":"time-user","exp":${exp},"nbf":1e400}`,
      `{"sub":"time-user","exp":${exp},"nbf":"0"}`,
      `{"sub":"time-user","exp":${exp},"iat":${now + 365 * 86400}}`,
      `{"sub":"time-user","exp":${exp},"iat":${now + 600}}`,
      `{"sub":"time-user","exp":${exp},"iat":1e400}`,
      `{"sub":"time-user","exp":${exp},"iat":null}`,
    ]) {
      const answer = await refused({ path: "/api/tasks", token: signRawPayload(payload) });
      expect(answer.body, payload).toEqual({ detail: "Invalid token" });
    }
    expect(await userRow("time-user")).toBeUndefined();
  });

  test("an iat up to 60 s ahead (clock skew) and an nbf in the past are fine", async () => {
    const now = nowSeconds();
    const payload = `{"sub":"time-user","exp":${now + 600},"iat":${now + 30},"nbf":${now - 10}}`;
    expect((await send(ctx.app, { path: "/api/tasks", token: signRawPayload(payload) })).status).toBe(200);
  });
});

describe(`10: /docs is served whole by the service (${driver})`, () => {
  test("the page loads only this service's own pinned Scalar bundle, under a CSP that allows only 'self'", async () => {
    const page = await send(ctx.app, { path: "/docs" });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    for (const directive of csp.split(";")) expect(directive).not.toMatch(/https?:|\*|'unsafe-eval'/);
    expect(csp.match(/script-src [^;]*/)?.[0]).toBe("script-src 'self'");
    expect(page.text).not.toMatch(/https?:\/\//);
    const scripts = [...page.text.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts).toEqual(["/docs/scalar.js"]);

    const bundle = await send(ctx.app, { path: "/docs/scalar.js" });
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toStartWith("text/javascript");
    const pinned = (await Bun.file("node_modules/@scalar/api-reference/package.json").json()) as { version: string };
    expect(bundle.text).toContain(`@scalar/api-reference@${pinned.version}`);
    expect(bundle.text.length).toBeGreaterThan(1_000_000);
  });

  test("/docs/json is still the OpenAPI document, and lists neither docs route", async () => {
    const doc = await send<{ openapi: string; paths: Record<string, unknown> }>(ctx.app, { path: "/docs/json" });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toStartWith("3.");
    expect(Object.keys(doc.body.paths)).toContain("/api/tasks/{id}/complete");
    expect(Object.keys(doc.body.paths).filter((p) => p.startsWith("/docs"))).toEqual([]);
  });
});
