// The app under test on a fresh database: built in process by createApp(), or, in the suite's
// binary mode (TEST_BINARY=path), the compiled executable serving that database, reached over HTTP
// through an object with the same handle(request). The binary gets the environment a test gives
// it and nothing else, in its own directory.
import { dirname } from "node:path";
import { startProcess } from "../../harness/process.ts";
import { type App, createApp } from "../../src/app.ts";
import { createTokenVerifier } from "../../src/auth/verify.ts";
import type { AuthConfig } from "../../src/config.ts";
import { taskNotifications } from "../../src/db/notifications.ts";
import { createLogger, type LogFields, type Logger } from "../../src/http/log.ts";
import { liveEvents } from "../../src/modules/events/streams.ts";
import { freshDatabase, type TestDatabase } from "./database.ts";
import { testBinary } from "./target.ts";
import { TEST_SECRET } from "./tokens.ts";

export interface TestAppOptions {
  auth?: AuthConfig;
  corsOrigins?: string[];
  log?: Logger;
}

/** Live events on a test database; it listens only once a stream opens. */
export function testEvents(database: TestDatabase, log: Logger = createLogger("silent")) {
  const notifications = taskNotifications(database, (cause) => log.warn("publishing a task change failed", { cause }));
  return liveEvents(database.db, notifications, log);
}

/** The app on a fresh database. Call `close()` when done; useTestApp() does it for a file. */
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

/** Replays the binary's JSON log lines into a test's logger, so log assertions hold in binary mode. */
function forwardTo(log: Logger) {
  return (line: string) => {
    if (!line.startsWith("{")) return;
    const {
      level,
      msg,
      time: _,
      ...fields
    } = JSON.parse(line) as { level: keyof Logger; msg: string; time: string } & LogFields;
    log[level](msg, fields);
  };
}

/** The environment that gives the binary what testApp() gives createApp() in-process. */
function binaryEnv(url: string, { auth = { secret: TEST_SECRET }, corsOrigins, log: _, ...other }: TestAppOptions) {
  const unsupported = Object.keys(other);
  if (unsupported.length > 0)
    throw new Error(
      `testApp({ ${unsupported.join(", ")} }) cannot reach a binary: skip this test when testBinary is set`,
    );
  const env: Record<string, string> = { DATABASE_URL: url, NODE_ENV: "test" };
  if (corsOrigins) env.CORS_ORIGINS = corsOrigins.join(",");
  if (auth.secret) env.BETTER_AUTH_SECRET = auth.secret;
  if (auth.keySet) {
    Object.assign(env, {
      AUTH_JWKS_URL: auth.keySet.jwksUrl,
      AUTH_ISSUER: auth.keySet.issuer,
      AUTH_AUDIENCE: auth.keySet.audience,
    });
  }
  return env;
}

/**
 * testApp() in binary mode: the binary serves this file's own PostgreSQL database, and `app` is
 * an object whose handle(request) sends the request to it over HTTP, so send(app, …) and Eden's
 * treaty(app) reach the binary unchanged. `db` is the same database, for assertions.
 */
async function binaryTestApp(path: string, database: TestDatabase, options: TestAppOptions) {
  if (!database.url)
    throw new Error("TEST_BINARY needs TEST_DATABASE_URL: the binary and the test share one PostgreSQL database");
  const { log } = options;
  const server = await startProcess([path], {
    cwd: dirname(path),
    env: { ...binaryEnv(database.url, options), LOG_LEVEL: log ? "debug" : "info" },
    onLine: log && forwardTo(log),
  });
  const handle = (request: Request) => {
    const { pathname, search } = new URL(request.url);
    // Concatenated, not resolved: a path such as //api/tasks must stay a path, not become a host.
    return fetch(new Request(server.url + pathname + search, request), { redirect: "manual" });
  };
  return {
    // Only handle() exists; the cast keeps App's route types for Eden.
    app: { handle } as unknown as App,
    database,
    db: database.db,
    close: async () => {
      await server.stop();
      await database.close();
    },
  };
}
