// Start-up rules for authentication: what each set of variables means, the refusals in
// production, the random secret and curl line of a bare development start, and `bun run token`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { loadConfig } from "../src/config.ts";
import { users } from "../src/db/schema.ts";
import { configProblems, driver, freshDatabase, send, type TestDatabase, testApp, testBinary } from "./helpers.ts";

const SECRET = "a-secret-that-is-exactly-32-byte";

const NOTHING_CONFIGURED =
  "no token verification configured: set BETTER_AUTH_SECRET (the secret your frontend signs HS256 tokens with) " +
  "or BETTER_AUTH_URL (Better Auth with the jwt() plugin; its keys at $BETTER_AUTH_URL/api/auth/jwks)";

describe("authentication settings", () => {
  test("BETTER_AUTH_URL gives the JWKS address, issuer and audience (a trailing slash dropped, as Better Auth does)", () => {
    expect(loadConfig({ BETTER_AUTH_URL: "https://app.example.com/" }).auth).toEqual({
      keySet: {
        jwksUrl: "https://app.example.com/api/auth/jwks",
        issuer: "https://app.example.com",
        audience: "https://app.example.com",
      },
    });
  });

  test("AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE override it; a secret can sit beside it", () => {
    const env = {
      BETTER_AUTH_SECRET: SECRET,
      BETTER_AUTH_URL: "https://app.example.com",
      AUTH_JWKS_URL: "https://keys.example.com/jwks.json",
      AUTH_ISSUER: "https://issuer.example.com",
      AUTH_AUDIENCE: "todo-api",
    };
    expect(loadConfig(env).auth).toEqual({
      secret: SECRET,
      keySet: {
        jwksUrl: "https://keys.example.com/jwks.json",
        issuer: "https://issuer.example.com",
        audience: "todo-api",
      },
    });
  });

  test("a secret of 32 bytes is enough, in production too", () => {
    expect(loadConfig({ BETTER_AUTH_SECRET: SECRET, NODE_ENV: "production" }).auth).toEqual({ secret: SECRET });
  });

  test.each(["production", "development"])(
    "a secret shorter than 32 bytes is refused (%s), without printing it",
    (NODE_ENV) => {
      const found = configProblems({ BETTER_AUTH_SECRET: "hunter2-hunter2-hunter2", NODE_ENV });
      expect(found).toEqual([
        "BETTER_AUTH_SECRET: 23 bytes is too short, use at least 32 (openssl rand -base64 32 makes one)",
      ]);
    },
  );

  test("production with neither a secret nor a key set is refused, saying what to set", () => {
    expect(configProblems({ NODE_ENV: "production" })).toEqual([NOTHING_CONFIGURED]);
  });

  test("a key set without anything to check iss and aud against is refused", () => {
    expect(
      configProblems({
        AUTH_JWKS_URL: "https://keys.example.com/jwks.json",
        AUTH_ISSUER: "https://issuer.example.com",
      }),
    ).toEqual([
      "AUTH_JWKS_URL: key-set tokens are checked for iss and aud; set BETTER_AUTH_URL, or AUTH_ISSUER and AUTH_AUDIENCE",
    ]);
  });

  test("an issuer or audience with no key set would be ignored, so it is refused", () => {
    expect(configProblems({ BETTER_AUTH_SECRET: SECRET, AUTH_ISSUER: "x", AUTH_AUDIENCE: "y" })).toEqual([
      "AUTH_ISSUER: only checked on key-set tokens; set BETTER_AUTH_URL or AUTH_JWKS_URL too",
      "AUTH_AUDIENCE: only checked on key-set tokens; set BETTER_AUTH_URL or AUTH_JWKS_URL too",
    ]);
  });

  test("development with nothing configured gets a different random secret per process", () => {
    const first = loadConfig({}).auth;
    const second = loadConfig({ NODE_ENV: "development" }).auth;
    expect(first.generatedSecret).toBe(true);
    expect(first.secret).toMatch(/^[\w-]{43}$/);
    expect(second.secret).not.toBe(first.secret);
  });
});

/**
 * Collects a process's output as it arrives, so a test can wait for a line. Processes run with
 * --no-env-file where the absence of a variable matters: a developer's .env must not change the result.
 */
function spawn(cmd: string[], env: Record<string, string>) {
  const proc = Bun.spawn(cmd, { env: { PATH: process.env.PATH!, ...env }, stdout: "pipe", stderr: "pipe" });
  let stdout = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) stdout += decoder.decode(chunk);
  })();
  return {
    proc,
    async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      for (;;) {
        const match = stdout.match(pattern);
        if (match) return match;
        if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode} before ${pattern}: ${stdout}`);
        await Bun.sleep(20);
      }
    },
    async finished() {
      const code = await proc.exited;
      await reading;
      return { code, stdout, stderr: await new Response(proc.stderr).text() };
    },
  };
}

/** The service from source, or the compiled binary when the suite runs against one. */
const serviceCommand = testBinary ? [testBinary] : ["bun", "--no-env-file", "src/index.ts"];

describe(`start-up (${driver})`, () => {
  let database: TestDatabase | undefined;
  let databaseEnv: Record<string, string> = { DATABASE_URL: "memory://" };
  beforeAll(async () => {
    // The spawned service uses the driver under test: this file's PostgreSQL database, or in-memory PGlite.
    if (driver === "postgres") {
      database = await freshDatabase();
      databaseEnv = database.env!;
    }
  }, 30_000);
  afterAll(() => database?.close());

  const serviceEnv = () => ({ PORT: "0", HOST: "127.0.0.1", ...databaseEnv });

  test("production with no verification configured exits 1 before listening, saying what to set", async () => {
    const { code, stdout, stderr } = await spawn(serviceCommand, {
      ...serviceEnv(),
      NODE_ENV: "production",
    }).finished();
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`config: ${NOTHING_CONFIGURED}`);
    expect(stdout).not.toContain("listening");
  }, 30_000);

  test("a short secret exits 1, and the secret appears nowhere in the output", async () => {
    const { code, stdout, stderr } = await spawn(serviceCommand, {
      ...serviceEnv(),
      BETTER_AUTH_SECRET: "short-secret-value",
    }).finished();
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      "config: BETTER_AUTH_SECRET: 18 bytes is too short, use at least 32 (openssl rand -base64 32 makes one)",
    );
    expect(stdout + stderr).not.toContain("short-secret-value");
  }, 30_000);

  test("development with nothing configured starts and prints one curl line that works as printed", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "todo-dev-secret-"));
    const service = spawn(serviceCommand, {
      ...serviceEnv(),
      DATA_DIR: dataDir,
      NODE_ENV: "development",
      LOG_LEVEL: "info",
    });
    try {
      // Up to the newline: a chunk can end in the middle of the line.
      const line = (await service.waitFor(/^curl .*\n/m))[0].trimEnd();
      const curl = Bun.spawn(["sh", "-c", `${line} --silent --show-error --include`], {
        stdout: "pipe",
        stderr: "pipe",
      });
      const [output, code] = await Promise.all([new Response(curl.stdout).text(), curl.exited]);
      expect(code).toBe(0);
      expect(output).toStartWith("HTTP/1.1 200");
      expect(output.trimEnd()).toEndWith("[]");
      const token = line.match(/Bearer ([\w.-]+)/)![1]!;
      expect(decodeJwt(token)).toMatchObject({ sub: "dev-user" });
    } finally {
      service.proc.kill("SIGTERM");
    }
    const { code, stdout } = await service.finished();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
    expect(stdout.match(/^curl /gm)).toHaveLength(1);
    expect(stdout).toContain(
      `"msg":"BETTER_AUTH_SECRET is not set: tokens are signed with a development secret kept in ${dataDir}, which \`bun run token\` uses too; try the line below"`,
    );
  }, 30_000);

  test("a configured secret prints no curl line", async () => {
    const service = spawn(serviceCommand, { ...serviceEnv(), BETTER_AUTH_SECRET: SECRET });
    await service.waitFor(/"msg":"listening"/);
    service.proc.kill("SIGTERM");
    const { code, stdout } = await service.finished();
    expect(code).toBe(0);
    expect(stdout).not.toContain("curl");
  }, 30_000);
});

describe(`bun run token (${driver})`, () => {
  const token = (args: string[], env: Record<string, string>) =>
    spawn(["bun", "run", "--silent", "token", "--", ...args], env).finished();

  test("prints a token the service accepts, with the given claims and lifetime", async () => {
    const { code, stdout } = await token(
      ["--sub", "alice", "--email", "alice@example.com", "--name", "Alice", "--ttl", "10m"],
      { BETTER_AUTH_SECRET: SECRET },
    );
    expect(code).toBe(0);
    const printed = stdout.trim();
    const claims = decodeJwt(printed);
    expect(claims).toMatchObject({ sub: "alice", email: "alice@example.com", name: "Alice" });
    expect(claims.exp! - claims.iat!).toBe(600);

    const ctx = await testApp({ auth: { secret: SECRET } });
    try {
      expect((await send(ctx.app, { path: "/api/tasks", token: printed })).status).toBe(200);
      expect(
        await ctx.db.select({ email: users.email, name: users.name }).from(users).where(eq(users.id, "alice")),
      ).toEqual([{ email: "alice@example.com", name: "Alice" }]);
    } finally {
      await ctx.close();
    }
  }, 30_000);

  test.each([
    ["no --sub", [], "--sub is required"],
    ["an unknown option", ["--sub", "a", "--admin"], "Unknown option '--admin'"],
    ["a malformed --ttl", ["--sub", "a", "--ttl", "soon"], "--ttl soon: expected a time span such as 30m, 1h or 7d"],
  ])(
    "%s: exit 2 with what is wrong and the usage",
    async (_, args, message) => {
      const { code, stdout, stderr } = await token(args, { BETTER_AUTH_SECRET: SECRET });
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toContain(message);
      expect(stderr).toContain("usage: bun run token -- --sub <user id>");
    },
    30_000,
  );

  test("the README's zero-config start: `bun run dev`, then `bun run token`, then the token works", async () => {
    // The README's commands as written; the environment only keeps them off this machine's port
    // 8000 and ./data (a fresh clone has no .env, so nothing else is set).
    const dataDir = mkdtempSync(join(tmpdir(), "todo-readme-"));
    const env = { HOME: process.env.HOME ?? "/tmp", DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" };
    const startDev = () => spawn(["bun", "run", "dev"], env);
    let dev = startDev();
    try {
      const listening = async () => JSON.parse((await dev.waitFor(/^\{.*"msg":"listening".*\n/m))[0]).url as string;
      let api = await listening();
      const { code, stdout, stderr } = await token(["--sub", "alice"], env);
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      const TOKEN = stdout.trim();
      const list = await fetch(new URL("/api/tasks", api), { headers: { authorization: `Bearer ${TOKEN}` } });
      expect([list.status, await list.json()]).toEqual([200, []]);
      // Kept for this user alone, and for the next start: the token outlives a restart.
      expect(statSync(join(dataDir, "development-secret")).mode & 0o777).toBe(0o600);
      dev.proc.kill("SIGTERM");
      await dev.finished();
      dev = startDev();
      api = await listening();
      const again = await fetch(new URL("/api/tasks", api), { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(again.status).toBe(200);
      expect(readFileSync(join(dataDir, "development-secret"), "utf8")).not.toContain(TOKEN);
    } finally {
      dev.proc.kill("SIGTERM");
      await dev.finished();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test("only a key set configured: exit 1, since the service would not accept a token signed here", async () => {
    const { code, stdout, stderr } = await spawn(["bun", "--no-env-file", "src/auth/token-cli.ts", "--sub", "alice"], {
      BETTER_AUTH_URL: "https://app.example.com",
    }).finished();
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trim()).toBe(
      "BETTER_AUTH_SECRET is not set: the server checks tokens against BETTER_AUTH_URL's keys only (get one from the frontend, or set BETTER_AUTH_SECRET on both)",
    );
  }, 30_000);

  test("production with nothing configured: exit 1 with the service's own refusal, and no secret file", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "todo-prod-"));
    const { code, stdout, stderr } = await spawn(["bun", "--no-env-file", "src/auth/token-cli.ts", "--sub", "alice"], {
      NODE_ENV: "production",
      DATA_DIR: dataDir,
    }).finished();
    const written = Array.from(new Bun.Glob("*").scanSync(dataDir));
    rmSync(dataDir, { recursive: true, force: true });
    expect([code, stdout, stderr.trim(), written]).toEqual([1, "", `config: ${NOTHING_CONFIGURED}`, []]);
  }, 30_000);
});
