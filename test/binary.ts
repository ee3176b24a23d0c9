// The compiled executable (dist/todo-api) as a running process, for test/binary.test.ts and for
// the suite's binary mode (TEST_BINARY=path: testApp() then serves every file from the binary).
// The binary gets the environment a test gives it and nothing else, in its own directory.
import { dirname } from "node:path";
import type { Subprocess } from "bun";
import type { App } from "../src/app.ts";
import type { LogFields, Logger } from "../src/http/log.ts";
import { TEST_SECRET, type TestAppOptions, type TestDatabase } from "./helpers.ts";

/** Path of a binary to run the whole suite against; see testApp() in helpers.ts. */
export const testBinary = process.env.TEST_BINARY || undefined;

export interface RunningBinary {
  /** Base URL, ending in "/". */
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Every stdout line so far. */
  lines: string[];
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

async function* readLines(stream: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

/**
 * Starts `path` on a port of the kernel's choosing and resolves once it logs "listening".
 * stdout is read to its end in any case, so a chatty process never blocks on a full pipe.
 */
export function startBinary(
  path: string,
  env: Record<string, string>,
  onLine?: (line: string) => void,
): Promise<RunningBinary> {
  const proc = Bun.spawn([path], {
    cwd: dirname(path),
    env: { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    void (async () => {
      for await (const line of readLines(proc.stdout)) {
        lines.push(line);
        onLine?.(line);
        if (!line.includes('"msg":"listening"')) continue;
        const url = (JSON.parse(line) as { url: string }).url;
        resolve({
          url,
          proc,
          lines,
          stop: () => {
            proc.kill("SIGTERM");
            return proc.exited;
          },
        });
      }
      reject(
        new Error(`${path} exited (${await proc.exited}) before listening:\n${lines.join("\n")}\n${await stderr}`),
      );
    })();
  });
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
 * an object whose handle(request) sends the request to it over HTTP, so request(app, …) and
 * Eden's treaty(app) reach the binary unchanged. `db` is the same database, for assertions.
 */
export async function binaryTestApp(path: string, database: TestDatabase, options: TestAppOptions) {
  if (!database.url)
    throw new Error("TEST_BINARY needs TEST_DATABASE_URL: the binary and the test share one PostgreSQL database");
  const { log } = options;
  const server = await startBinary(
    path,
    { ...binaryEnv(database.url, options), LOG_LEVEL: log ? "debug" : "info" },
    log && forwardTo(log),
  );
  const handle = (request: Request) => {
    const { pathname, search } = new URL(request.url);
    // Concatenated, not resolved: a path such as //api/tasks must stay a path, not become a host.
    return fetch(new Request(server.url.slice(0, -1) + pathname + search, request), { redirect: "manual" });
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
