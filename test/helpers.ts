// Test harness: every test file gets its own freshly migrated database and an app built on it.
// PGlite (default): a copy of one migrated template, made once per `bun test` run, because initdb
// costs ~3 s and a copy ~0.3 s. PostgreSQL (TEST_DATABASE_URL set): a new database per file, dropped
// afterwards, so files and concurrent runs never see each other's rows.

import { afterAll, beforeAll } from "bun:test";
import type { PGlite } from "@electric-sql/pglite";
import { SQL } from "bun";
import { type JWTPayload, SignJWT } from "jose";
import { createApp } from "../src/app.ts";
import { createTokenVerifier } from "../src/auth/verify.ts";
import { type AuthConfig, ConfigError, loadConfig } from "../src/config.ts";
import { type DatabaseHandle, openDatabase, openPostgres } from "../src/db/client.ts";
import { taskNotifications } from "../src/db/notifications.ts";
import { createLogger, type Logger } from "../src/http/log.ts";
import { liveEvents } from "../src/modules/events/streams.ts";
import { binaryTestApp, testBinary } from "./binary.ts";

export const TEST_SECRET = "test-secret-of-at-least-thirty-two-bytes!";
export const postgresUrl = process.env.TEST_DATABASE_URL || undefined;
export const driver = postgresUrl ? "postgres" : "pglite";

const state = globalThis as { pgliteTemplate?: Promise<Blob> };

function pgliteTemplate(): Promise<Blob> {
  state.pgliteTemplate ??= (async () => {
    const database = await openDatabase({ url: "memory://", dataDir: "", poolMax: 1 });
    await database.migrate();
    const client = (database.db as unknown as { $client: PGlite }).$client;
    const dump = await client.dumpDataDir("none");
    await database.close();
    return dump;
  })();
  return state.pgliteTemplate;
}

export interface TestDatabase extends DatabaseHandle {
  /** The connection string of this file's own PostgreSQL database, when on PostgreSQL. */
  url?: string;
}

/**
 * A fresh database of the driver under test, migrated unless `migrated: false` (PostgreSQL only:
 * for tests of how processes apply migrations to an empty database).
 */
export async function freshDatabase({ migrated = true } = {}): Promise<TestDatabase> {
  if (!postgresUrl) {
    if (!migrated) throw new Error("an unmigrated database is a PostgreSQL-only fixture");
    return openDatabase({ url: "memory://", dataDir: "", poolMax: 1, pgliteTemplate: await pgliteTemplate() });
  }
  const name = `todo_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = new SQL({ url: postgresUrl, max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.close();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  const database = openPostgres(url.href, 10);
  if (migrated) await database.migrate();
  return {
    ...database,
    url: url.href,
    close: async () => {
      await database.close();
      const admin = new SQL({ url: postgresUrl, max: 1 });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.close();
    },
  };
}

/** Live events on a test database; it listens only once a stream opens. */
export function testEvents(database: TestDatabase, log: Logger = createLogger("silent")) {
  return liveEvents(database.db, taskNotifications(database, database.url), log);
}

export interface TestAppOptions {
  auth?: AuthConfig;
  corsOrigins?: string[];
  log?: Logger;
}

/** The app on a fresh database. Call `close()` in afterAll. */
export async function testApp(options: TestAppOptions = {}) {
  const database = await freshDatabase();
  if (testBinary) return binaryTestApp(testBinary, database, options);
  const log = options.log ?? createLogger("silent");
  const events = testEvents(database, log);
  const app = createApp({
    config: { corsOrigins: options.corsOrigins ?? ["http://localhost:3000"] },
    database,
    verifyToken: createTokenVerifier(options.auth ?? { secret: TEST_SECRET }),
    log,
    events,
  });
  return {
    app,
    database,
    db: database.db,
    close: async () => {
      await events.close();
      await database.close();
    },
  };
}

export type TestApp = Awaited<ReturnType<typeof testApp>>;

/**
 * The app on a fresh database for the calling test file: registers its own beforeAll (build) and
 * afterAll (close), like fastify/demo's test/helper.ts. The returned object is filled in before the
 * file's first test runs; read its fields inside tests and hooks, not at the top level.
 */
export function useTestApp(options: TestAppOptions = {}): TestApp {
  const context = {} as TestApp;
  beforeAll(async () => {
    Object.assign(context, await testApp(options));
  }, 60_000);
  afterAll(() => context.close?.());
  return context;
}

/** An HS256 token signed with TEST_SECRET, valid for an hour unless claims say otherwise. */
export function tokenFor(sub: string, claims: JWTPayload = {}, secret = TEST_SECRET): Promise<string> {
  return new SignJWT({ sub, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? "1h")
    .sign(new TextEncoder().encode(secret));
}

/** Sends a request to the app the way a client would; `body` objects are sent as JSON. */
export function request(
  app: { handle(request: Request): Promise<Response> },
  method: string,
  path: string,
  { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const init: RequestInit = { method, headers: { ...headers } };
  const h = init.headers as Record<string, string>;
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  return app.handle(new Request(`http://localhost${path}`, init));
}

export interface SendOptions {
  method?: string;
  path: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  /** The body parsed as JSON; undefined when empty, the text when it is not JSON. */
  body: T;
  text: string;
}

/** Sends one request the way a client would and reads its whole answer. */
export async function send<T = unknown>(
  app: { handle(request: Request): Promise<Response> },
  { method = "GET", path, token, body, headers = {} }: SendOptions,
): Promise<Answer<T>> {
  const response = await request(app, method, path, { token, body, headers });
  const text = await response.text();
  let parsed: unknown = text === "" ? undefined : text;
  try {
    if (text !== "") parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/** What loadConfig() refuses in `env`, one line per bad variable; [] when it accepts it. */
export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}
