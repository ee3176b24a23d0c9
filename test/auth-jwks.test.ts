// Authentication with Better Auth's jwt() plugin: tokens from a real Better Auth server, checked
// against its key set (JWKS), through HTTP. Hostile tokens, algorithms, key rotation, and the auth
// server going down.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { generateKeyPair, SignJWT } from "jose";
import { createApp } from "../src/app.ts";
import { createTokenVerifier, type VerifierOptions } from "../src/auth/verify.ts";
import type { AuthConfig } from "../src/config.ts";
import { users } from "../src/db/schema.ts";
import { createLogger } from "../src/http/log.ts";
import { type Answer, driver, send, TEST_SECRET, testBinary, testEvents, tokenFor, useTestApp } from "./helpers.ts";
import { type AuthServer, startAuthServer } from "./support/auth-server.ts";

const keySetOf = (server: AuthServer) => ({ jwksUrl: server.jwksUrl, issuer: server.url, audience: server.url });

const authServer = startAuthServer();
// Both modes, as a deployment migrating from the shared secret to the key set runs it.
const ctx = useTestApp({ auth: { secret: TEST_SECRET, keySet: keySetOf(authServer) } });
const cleanups: (() => unknown)[] = [() => authServer.stop()];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/**
 * Another app in this process, on this file's database, verifying against `server`'s key set (and
 * TEST_SECRET unless `auth` says otherwise). Tests that need one skip in binary mode: the binary
 * is configured only through testApp(), and cannot take a shorter JWKS cooldown.
 */
function appFor(server: AuthServer, auth: Partial<AuthConfig> = {}, options: VerifierOptions = {}) {
  return createApp({
    config: { corsOrigins: ["http://localhost:3000"] },
    database: ctx.database,
    verifyToken: createTokenVerifier({ secret: TEST_SECRET, keySet: keySetOf(server), ...auth }, options),
    log: createLogger("silent"),
    events: testEvents(ctx.database),
  });
}
const inProcess = test.skipIf(testBinary !== undefined);
type App = { handle(request: Request): Promise<Response> };

const getTasks = (app: App, token: string) => send(app, { path: "/api/tasks", token });
const now = () => Math.floor(Date.now() / 1000);
const userRow = async (id: string) => (await ctx.db.select().from(users).where(eq(users.id, id)))[0];

function expectInvalid(answer: Answer) {
  expect(answer.status).toBe(401);
  expect(answer.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  expect(answer.body).toEqual({ detail: "Invalid token" });
}

function expectUnavailable(answer: Answer) {
  expect(answer.status).toBe(503);
  expect(answer.headers.get("www-authenticate")).toBeNull();
  expect(answer.body).toEqual({ detail: "Token verification unavailable" });
}

describe(`Better Auth jwt() tokens (${driver})`, () => {
  let app: App;
  beforeAll(() => {
    app = ctx.app;
  });

  test("a signed-up user's token from GET /api/auth/token is accepted; the user row comes from its claims", async () => {
    const ada = await authServer.signUp("ada@example.com", "Ada Lovelace");
    expect(ada.id).toMatch(/^[A-Za-z0-9]{32}$/); // opaque, not a UUID
    const response = await getTasks(app, await authServer.token(ada));
    expect(response.status).toBe(200);
    expect(response.body).toEqual([]);
    expect(await userRow(ada.id)).toMatchObject({ id: ada.id, email: "ada@example.com", name: "Ada Lovelace" });
  });

  test("a name changed in Better Auth reaches the user row with the next token", async () => {
    const grace = await authServer.signUp("grace@example.com", "Grace");
    await getTasks(app, await authServer.token(grace));
    await authServer.updateName(grace, "Grace Hopper");
    expect((await getTasks(app, await authServer.token(grace))).status).toBe(200);
    expect(await userRow(grace.id)).toMatchObject({ email: "grace@example.com", name: "Grace Hopper" });
  });

  test("an expired token: 401 Token has expired", async () => {
    const response = await getTasks(app, await authServer.sign({ sub: "late", exp: now() - 120 }));
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(response.body).toEqual({ detail: "Token has expired" });
  });

  test.each([
    ["nbf in the future", () => authServer.sign({ sub: "early", nbf: now() + 300 })],
    ["no sub", () => authServer.sign({ email: "nobody@example.com" })],
    ["a wrong iss", () => authServer.sign({ sub: "x", iss: "https://evil.example" })],
    ["a wrong aud", () => authServer.sign({ sub: "x", aud: "https://other-api.example" })],
    [
      "a tampered payload",
      async () => {
        const [header, , signature] = (await authServer.sign({ sub: "alice" })).split(".");
        const payload = Buffer.from(
          JSON.stringify({ sub: "mallory", iss: authServer.url, aud: authServer.url, exp: now() + 600 }),
        ).toString("base64url");
        return `${header}.${payload}.${signature}`;
      },
    ],
  ])("%s: 401 Invalid token", async (_, token) => {
    expectInvalid(await getTasks(app, await token()));
  });

  test("EdDSA from a key that is not in the set, with the set's kid or a made-up one: 401 Invalid token", async () => {
    const realKid = ((await fetch(authServer.jwksUrl).then((r) => r.json())) as { keys: { kid: string }[] }).keys[0]!
      .kid;
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    for (const kid of [realKid, "made-up-kid"]) {
      const forged = await new SignJWT({ sub: "mallory" })
        .setProtectedHeader({ alg: "EdDSA", kid })
        .setIssuer(authServer.url)
        .setAudience(authServer.url)
        .setExpirationTime("10m")
        .sign(privateKey);
      expectInvalid(await getTasks(app, forged));
    }
  });

  async function hmacWithPublicKey() {
    const { keys } = (await fetch(authServer.jwksUrl).then((r) => r.json())) as { keys: { kid: string; x: string }[] };
    const jwk = keys[0]!;
    const forge = (material: Uint8Array) =>
      new SignJWT({ sub: "mallory" })
        .setProtectedHeader({ alg: "HS256", kid: jwk.kid })
        .setIssuer(authServer.url)
        .setAudience(authServer.url)
        .setExpirationTime("10m")
        .sign(material);
    return [await forge(Buffer.from(jwk.x, "base64url")), await forge(new TextEncoder().encode(JSON.stringify(jwk)))];
  }

  test("HS256 signed with the key set's public key bytes: 401 Invalid token", async () => {
    for (const forged of await hmacWithPublicKey()) expectInvalid(await getTasks(app, forged));
  });

  inProcess("... and with no secret configured at all", async () => {
    const keyOnly = appFor(authServer, { secret: undefined });
    for (const forged of await hmacWithPublicKey()) expectInvalid(await getTasks(keyOnly, forged));
  });

  inProcess(
    "with only a key set configured, an HS256 token of the old secret is refused; with only a secret, a Better Auth token is",
    async () => {
      const user = await authServer.signUp("modes@example.com", "Modes");
      const keyOnly = appFor(authServer, { secret: undefined });
      const secretOnly = appFor(authServer, { keySet: undefined });
      expectInvalid(await getTasks(keyOnly, await tokenFor(user.id)));
      expectInvalid(await getTasks(secretOnly, await authServer.token(user)));
      expect((await getTasks(keyOnly, await authServer.token(user))).status).toBe(200);
      expect((await getTasks(secretOnly, await tokenFor(user.id))).status).toBe(200);
    },
  );

  inProcess("an issuer or audience configured differently from Better Auth's: its own tokens are refused", async () => {
    const user = await authServer.signUp("mismatch@example.com", "Mismatch");
    const token = await authServer.token(user);
    const keySet = { jwksUrl: authServer.jwksUrl, issuer: authServer.url, audience: authServer.url };
    expectInvalid(await getTasks(appFor(authServer, { keySet: { ...keySet, issuer: "https://auth.example" } }), token));
    expectInvalid(
      await getTasks(appFor(authServer, { keySet: { ...keySet, audience: "https://api.example" } }), token),
    );
  });

  inProcess.each(["ES256", "RS256", "PS256"] as const)("a Better Auth configured for %s works too", async (alg) => {
    const other = startAuthServer({ alg });
    cleanups.push(() => other.stop());
    const user = await other.signUp(`${alg}@example.com`, alg);
    const token = await other.token(user);
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toMatchObject({ alg });
    expect((await getTasks(appFor(other), token)).status).toBe(200);
  });
});

describe(`key rotation and the key set's cache (${driver})`, () => {
  inProcess("the key set is fetched once, not per request", async () => {
    const server = startAuthServer();
    cleanups.push(() => server.stop());
    const app = appFor(server);
    const token = await server.token(await server.signUp("cached@example.com", "Cached"));
    for (let i = 0; i < 100; i++) expect((await getTasks(app, token)).status).toBe(200);
    expect(server.jwksFetches).toBe(1);
  });

  inProcess("100 tokens with made-up kids cause at most one refetch", async () => {
    const server = startAuthServer();
    cleanups.push(() => server.stop());
    const app = appFor(server);
    expect((await getTasks(app, await server.token(await server.signUp("kids@example.com", "Kids")))).status).toBe(200);
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    for (let i = 0; i < 100; i++) {
      const forged = await new SignJWT({ sub: "mallory" })
        .setProtectedHeader({ alg: "EdDSA", kid: `kid-${i}` })
        .setExpirationTime("10m")
        .sign(privateKey);
      expectInvalid(await getTasks(app, forged));
    }
    expect(server.jwksFetches).toBeLessThanOrEqual(2);
  });

  inProcess(
    "a token signed with a rotated-in key works without a restart; tokens of the old key keep working",
    async () => {
      const server = startAuthServer();
      cleanups.push(() => server.stop());
      const cooldownMs = 300;
      const app = appFor(server, {}, { jwksCooldownMs: cooldownMs });
      const user = await server.signUp("rotate@example.com", "Rotate");
      const before = await server.token(user);
      expect((await getTasks(app, before)).status).toBe(200);

      server.rotateKeys();
      const after = await server.token(user);
      const kid = (token: string) => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid;
      expect(kid(after)).not.toBe(kid(before));
      await Bun.sleep(cooldownMs + 50); // one refetch per cooldown, counted from the last fetch

      expect((await getTasks(app, after)).status).toBe(200);
      expect((await getTasks(app, before)).status).toBe(200);
      for (let i = 0; i < 100; i++) expect((await getTasks(app, i % 2 ? after : before)).status).toBe(200);
      expect(server.jwksFetches).toBe(2);
    },
  );
});

describe(`the auth server going down (${driver})`, () => {
  inProcess(
    "JWKS hanging: 503 within 5 s for an uncached kid; cached keys keep working; back up, the new key works",
    async () => {
      const server = startAuthServer();
      cleanups.push(() => server.stop());
      const app = appFor(server, {}, { jwksCooldownMs: 100 });
      const user = await server.signUp("down@example.com", "Down");
      const cached = await server.token(user);
      expect((await getTasks(app, cached)).status).toBe(200);

      server.rotateKeys();
      const uncached = await server.token(user);
      server.setJwks("hanging");
      await Bun.sleep(150);
      const started = performance.now();
      expectUnavailable(await getTasks(app, uncached));
      expect(performance.now() - started).toBeLessThan(5_000);
      expect((await getTasks(app, cached)).status).toBe(200);

      server.setJwks("failing");
      expectUnavailable(await getTasks(app, uncached));
      expect((await getTasks(app, cached)).status).toBe(200);

      server.setJwks("up");
      await Bun.sleep(150); // a failed fetch starts the cooldown too
      expect((await getTasks(app, uncached)).status).toBe(200);
    },
    15_000,
  );

  inProcess("JWKS never reachable: Better Auth tokens get 503, shared-secret tokens still work", async () => {
    const server = startAuthServer();
    cleanups.push(() => server.stop());
    const token = await server.token(await server.signUp("unreachable@example.com", "Unreachable"));
    // Nothing listens on port 1: the connection is refused.
    const app = appFor(server, {
      keySet: { jwksUrl: "http://127.0.0.1:1/api/auth/jwks", issuer: server.url, audience: server.url },
    });
    expectUnavailable(await getTasks(app, token));
    expect((await getTasks(app, await tokenFor("secret-user"))).status).toBe(200);
  });
});
