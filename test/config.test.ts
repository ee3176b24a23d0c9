// Configuration is parsed once at start; every bad variable is named, and the process exits 1.
import { describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { loadConfig } from "../src/config.ts";
import { configProblems } from "./helpers.ts";

describe("config", () => {
  test("defaults need no variable at all", () => {
    expect(loadConfig({})).toEqual({
      port: 8000,
      host: "0.0.0.0",
      databaseUrl: undefined,
      databaseDirectUrl: undefined,
      databasePooler: "none",
      dataDir: "./data",
      dbPoolMax: 10,
      workers: 1,
      shutdownTimeoutMs: 8000,
      rateLimitPerMinute: 0,
      corsOrigins: ["http://localhost:3000"],
      logLevel: "info",
      nodeEnv: "development",
      // Outside production, no verification configured means a random secret for this process.
      auth: { secret: expect.stringMatching(/^[\w-]{43}$/), generatedSecret: true },
    });
  });

  test.each([
    ["PORT", "abc", "PORT=abc: expected an integer from 0 to 65535"],
    ["PORT", "70000", "PORT=70000: expected an integer from 0 to 65535"],
    ["PORT", "-1", "PORT=-1: expected an integer from 0 to 65535"],
    ["DB_POOL_MAX", "0", "DB_POOL_MAX=0: expected an integer from 1 to 1000"],
    ["WORKERS", "0", "WORKERS=0: expected auto or an integer from 1 to 64"],
    ["WORKERS", "many", "WORKERS=many: expected auto or an integer from 1 to 64"],
    ["RATE_LIMIT_PER_MINUTE", "-5", "RATE_LIMIT_PER_MINUTE=-5: expected an integer from 0 to 1000000"],
    ["RATE_LIMIT_PER_MINUTE", "lots", "RATE_LIMIT_PER_MINUTE=lots: expected an integer from 0 to 1000000"],
    [
      "DATABASE_URL",
      "not-a-url",
      "DATABASE_URL=not-a-url: expected a URL starting with postgres:// or postgresql:// or memory://",
    ],
    [
      "DATABASE_URL",
      "mysql://root@localhost/x",
      "DATABASE_URL=mysql://root@localhost/x: expected a URL starting with postgres:// or postgresql:// or memory://",
    ],
    ["LOG_LEVEL", "loud", "LOG_LEVEL=loud: expected one of debug, info, warn, error, silent"],
    ["NODE_ENV", "prod", "NODE_ENV=prod: expected one of development, production, test"],
    ["CORS_ORIGINS", "localhost:3000", 'CORS_ORIGINS: "localhost:3000" is not an origin such as http://localhost:3000'],
    ["METRICS_PORT", "0", "METRICS_PORT=0: expected an integer from 1 to 65535"],
    ["METRICS_PORT", "8000", "METRICS_PORT: must differ from PORT; metrics never share the API's port"],
    [
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "collector:4318",
      "OTEL_EXPORTER_OTLP_ENDPOINT=collector:4318: expected a URL starting with http:// or https://",
    ],
    [
      "OTEL_TRACES_SAMPLER",
      "sometimes",
      "OTEL_TRACES_SAMPLER=sometimes: expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
    ],
    ["OTEL_TRACES_SAMPLER_ARG", "2", "OTEL_TRACES_SAMPLER_ARG=2: expected a number from 0 to 1"],
  ])("%s=%s is refused with a message naming it", (name, value, message) => {
    expect(configProblems({ [name]: value })).toEqual([message]);
  });

  test("metrics and traces are off unless their variables are set", () => {
    const config = loadConfig({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" });
    expect(config.metricsPort).toBeUndefined();
    expect(config.tracing).toBeUndefined();
  });

  test("OTLP endpoints and sampling as OpenTelemetry's SDKs read them", () => {
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.01",
      }).tracing,
    ).toEqual({
      url: "http://collector:4318/v1/traces",
      sampler: "parentbased_traceidratio",
      ratio: 0.01,
      serviceName: "todo-api",
    });
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/otlp",
        OTEL_SERVICE_NAME: "tasks",
      }).tracing,
    ).toEqual({ url: "https://traces.example/otlp", sampler: "parentbased_always_on", ratio: 1, serviceName: "tasks" });
  });

  test("each worker gets a metrics port of its own, none of them PORT", () => {
    const base = { DATABASE_URL: "postgres://db/x", BETTER_AUTH_SECRET: "s".repeat(32), PORT: "8000" };
    expect(loadConfig({ ...base, WORKERS: "4", METRICS_PORT: "9464" }).metricsPort).toBe(9464);
    expect(configProblems({ ...base, WORKERS: "4", METRICS_PORT: "7997" })).toEqual([
      "METRICS_PORT: must differ from PORT; metrics never share the API's port",
    ]);
    expect(configProblems({ ...base, WORKERS: "4", METRICS_PORT: "65534" })).toEqual([
      "METRICS_PORT: with WORKERS=4, ports up to 65537 are needed",
    ]);
  });

  test("WORKERS=auto is one process per core", () => {
    expect(
      loadConfig({ WORKERS: "auto", DATABASE_URL: "postgres://db/x", BETTER_AUTH_SECRET: "s".repeat(32) }).workers,
    ).toBe(availableParallelism());
  });

  test("several workers need PostgreSQL, a fixed port and a configured key", () => {
    expect(configProblems({ WORKERS: "2", PORT: "0" })).toEqual([
      "WORKERS=2: several processes need PostgreSQL (DATABASE_URL); an embedded database belongs to one process",
      "WORKERS=2: processes sharing a port need a fixed PORT, not 0",
      "WORKERS=2: every process must check tokens with the same key; set BETTER_AUTH_SECRET or BETTER_AUTH_URL",
    ]);
    expect(
      configProblems({ WORKERS: "2", DATABASE_URL: "memory://", BETTER_AUTH_SECRET: "s".repeat(32) }),
    ).toHaveLength(1);
    expect(
      loadConfig({ WORKERS: "2", DATABASE_URL: "postgres://db/x", BETTER_AUTH_SECRET: "s".repeat(32) }).workers,
    ).toBe(2);
  });

  test("every bad variable is reported at once, passwords hidden", () => {
    expect(configProblems({ PORT: "abc", DB_POOL_MAX: "0", DATABASE_URL: "mysql://u:hunter2@h/db" })).toEqual([
      "PORT=abc: expected an integer from 0 to 65535",
      "DATABASE_URL=mysql://u:***@h/db: expected a URL starting with postgres:// or postgresql:// or memory://",
      "DB_POOL_MAX=0: expected an integer from 1 to 1000",
    ]);
  });

  test("the process exits 1 with one line per bad variable", async () => {
    const proc = Bun.spawn(["bun", "src/index.ts"], {
      env: { PATH: process.env.PATH, PORT: "70000", DATABASE_URL: "not-a-url", DB_POOL_MAX: "0" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(1);
    expect((await new Response(proc.stderr).text()).trim().split("\n")).toEqual([
      "config: PORT=70000: expected an integer from 0 to 65535",
      "config: DATABASE_URL=not-a-url: expected a URL starting with postgres:// or postgresql:// or memory://",
      "config: DB_POOL_MAX=0: expected an integer from 1 to 1000",
    ]);
  });
});
