// Starts the two processes a browser needs: the API (the service of this repository) and this
// Next.js app with its Better Auth, each told where the other is. Used by `bun run example` (for
// people) and by the end-to-end tests (on free loopback ports).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const exampleDir = join(import.meta.dir, "..");
export const repositoryRoot = join(exampleDir, "../..");

export interface RunningProcess {
  url: string;
  proc: Subprocess;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

type Output = "inherit" | { file: string };

/** A port nobody listens on right now (the kernel's pick, released at once). */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

/** Only what the process needs: nothing leaks in from the caller's shell or a .env file. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NEXT_TELEMETRY_DISABLED: "1" };
  for (const name of ["PATH", "HOME", "TMPDIR"]) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

function spawn(cmd: string[], cwd: string, env: Record<string, string>, output: Output) {
  const sink = output === "inherit" ? "inherit" : Bun.file(output.file);
  return Bun.spawn(cmd, { cwd, env: { ...baseEnv(), ...env }, stdin: "ignore", stdout: sink, stderr: sink });
}

async function untilReady(url: string, proc: Subprocess, name: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with code ${proc.exitCode} before it was ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await Bun.sleep(200);
  }
  proc.kill();
  throw new Error(`${name} was not ready at ${url} within ${timeoutMs / 1000} s`);
}

function running(url: string, proc: Subprocess): RunningProcess {
  return {
    url,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/**
 * The API, verifying the tokens of the Better Auth at `webUrl` through its key set, and accepting
 * browser calls from that origin. `database`: a DATABASE_URL, or a DATA_DIR for embedded PGlite.
 */
export async function startApi(options: {
  port: number;
  /** The interface to listen on, also used in the URL; default: every interface, "localhost". */
  host?: string;
  webUrl: string;
  database: { url: string } | { dataDir: string };
  output: Output;
}): Promise<RunningProcess> {
  const url = `http://${options.host ?? "localhost"}:${options.port}`;
  const env: Record<string, string> = {
    PORT: String(options.port),
    ...(options.host ? { HOST: options.host } : {}),
    BETTER_AUTH_URL: options.webUrl,
    CORS_ORIGINS: options.webUrl,
    LOG_LEVEL: "warn",
    ...("url" in options.database ? { DATABASE_URL: options.database.url } : { DATA_DIR: options.database.dataDir }),
  };
  const proc = spawn(["bun", "--no-env-file", "src/index.ts"], repositoryRoot, env, options.output);
  await untilReady(`${url}/health/ready`, proc, "the API", 60_000);
  return running(url, proc);
}

/**
 * This Next.js app: `next dev`, or `next start` of the build in .next. BETTER_AUTH_URL must be the
 * address the browser uses: Better Auth puts it in the tokens' iss and aud, and the API checks them.
 */
export async function startWeb(options: {
  port: number;
  /** The interface to listen on, also used in the URL; default: every interface, "localhost". */
  host?: string;
  apiUrl: string;
  mode: "dev" | "start";
  output: Output;
  /** Off for the browser tests, which sign in far faster than people do (lib/auth.ts). */
  authRateLimit?: "off";
}): Promise<RunningProcess> {
  const url = `http://${options.host ?? "localhost"}:${options.port}`;
  const env = {
    ...(options.authRateLimit ? { AUTH_RATE_LIMIT: options.authRateLimit } : {}),
    BETTER_AUTH_URL: url,
    // A new secret per start: the sessions it signs live in memory and end with the process anyway.
    BETTER_AUTH_SECRET: randomBytes(32).toString("base64"),
    API_URL: options.apiUrl,
  };
  const cmd = [join(exampleDir, "node_modules/.bin/next"), options.mode, "-p", String(options.port)];
  if (options.host) cmd.push("-H", options.host);
  const proc = spawn(cmd, exampleDir, env, options.output);
  // The sign-in page: in dev mode this also compiles it, so the first visit is not slow.
  await untilReady(`${url}/sign-in`, proc, "the Next.js app", 120_000);
  return running(url, proc);
}
