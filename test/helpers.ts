// What a test file needs, in one import: `const ctx = useTestApp()` at the top of the file (the app
// on its own fresh database, set up and torn down by the file's own hooks, like fastify/demo's
// test/helper.ts), `send(ctx.app, { method, path, token, body })` to call it as a client would,
// and `tokenFor(sub)` to sign in. The pieces live in ./support/: the database, the app in process
// or as the compiled binary, tokens, and tools for tests that break things on purpose.
import { afterAll, beforeAll } from "bun:test";
import { ConfigError, loadConfig } from "../src/config.ts";
import { type TestAppOptions, testApp } from "./support/app.ts";

export { testApp, testEvents } from "./support/app.ts";
export {
  freshDatabase,
  lockHolder,
  queryRows,
  recountTasks,
  someoneWaits,
  type TestDatabase,
} from "./support/database.ts";
export { driver, pooler, postgresUrl, testBinary } from "./support/target.ts";
export { TEST_SECRET, tokenFor } from "./support/tokens.ts";

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

export interface SendOptions {
  method?: string;
  path: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Objects are sent as JSON; strings and bytes as they are, as `application/json` unless `headers` say otherwise. */
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

type Handler = { handle(request: Request): Promise<Response> };

/**
 * The Response itself, unread: only for an answer that must be read as it streams. Everything else
 * uses send().
 */
function sendForStream(
  app: Handler,
  { method = "GET", path, token, body, headers = {} }: SendOptions,
): Promise<Response> {
  const init: RequestInit & { headers: Record<string, string> } = { method, headers: { ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  return app.handle(new Request(`http://localhost${path}`, init));
}

/** Sends one request the way a client would and reads its whole answer. */
export async function send<T = unknown>(app: Handler, options: SendOptions): Promise<Answer<T>> {
  const response = await sendForStream(app, options);
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
