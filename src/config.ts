// The only reader of process.env. Every variable is parsed here once; a bad value stops the
// process at start with one line per bad variable, instead of failing on the first request.
import { availableParallelism } from "node:os";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type NodeEnv = "development" | "production" | "test";

export interface KeySetConfig {
  /** Where Better Auth's jwt() plugin publishes its public keys. */
  jwksUrl: string;
  /** Expected `iss` and `aud`; Better Auth puts its base URL in both. */
  issuer: string;
  audience: string;
}

export interface AuthConfig {
  /** HS256/384/512 shared secret (Better Auth's BETTER_AUTH_SECRET). */
  secret?: string;
  /** Nothing was configured outside production, so `secret` was made up for this process. */
  generatedSecret?: boolean;
  /** Tokens of Better Auth's jwt() plugin, verified against its key set. */
  keySet?: KeySetConfig;
}

/** HMAC keys shorter than the hash add no strength and are easy to guess; Better Auth asks for 32. */
export const MIN_SECRET_BYTES = 32;

const MAX_WORKERS = 64;

/**
 * What sits between the service and PostgreSQL. `none`: a direct connection, a session-mode pooler,
 * or PgBouncer 1.21+ with max_prepared_statements; named prepared statements are kept per
 * connection. `transaction`: a transaction-mode pooler (PgBouncer before 1.21, most hosted pooled
 * URLs), which hands each transaction to any server connection; statements go unnamed.
 */
export type DatabasePooler = "none" | "transaction";

// Hosts whose providers document a transaction-mode PgBouncer: Neon's pooled endpoints
// (ep-…-pooler.…) and Supabase's pooler on its transaction port 6543.
const TRANSACTION_POOLER_HOSTS = [
  { host: /-pooler\./, port: undefined },
  { host: /\.pooler\.supabase\.com$/, port: "6543" },
];

function knownTransactionPooler(url: string | undefined): boolean {
  if (!url || !URL.canParse(url)) return false;
  const { hostname, port } = new URL(url);
  return TRANSACTION_POOLER_HOSTS.some((known) => known.host.test(hostname) && (!known.port || known.port === port));
}

/** OTEL_TRACES_SAMPLER's values (OpenTelemetry's SDK environment variables). */
export const TRACE_SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON): the traces endpoint, or the base endpoint + /v1/traces. */
  url: string;
  sampler: TraceSampler;
  /** OTEL_TRACES_SAMPLER_ARG: the share of traces kept by the *traceidratio samplers. */
  ratio: number;
  serviceName: string;
}

export interface Config {
  port: number;
  host: string;
  /** Unset: embedded PGlite under dataDir. `memory://`: in-memory PGlite. Else PostgreSQL. */
  databaseUrl?: string;
  /**
   * A connection straight to PostgreSQL, or through a session-mode pooler, for what needs a session
   * (the migrations' advisory lock, LISTEN): DATABASE_DIRECT_URL, as Neon and Prisma name it.
   */
  databaseDirectUrl?: string;
  /** DATABASE_POOLER, or `transaction` when DATABASE_URL is a pooled URL of a known provider. */
  databasePooler: DatabasePooler;
  dataDir: string;
  dbPoolMax: number;
  /** Server processes sharing the port (WORKERS; `auto`: one per core). Each has its own pool. */
  workers: number;
  /**
   * SHUTDOWN_TIMEOUT (seconds): how long a stop may take, draining requests and closing the
   * database; it must end before the platform's own stop timeout (10 s in Docker and Kubernetes).
   */
  shutdownTimeoutMs: number;
  /** Requests per user per minute on /api routes, per process; 0: no limit. */
  rateLimitPerMinute: number;
  /** METRICS_PORT: Prometheus metrics there (worker n of WORKERS on METRICS_PORT + n - 1); unset: none. */
  metricsPort?: number;
  /** OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set: spans are exported; else none. */
  tracing?: TracingConfig;
  corsOrigins: string[];
  logLevel: LogLevel;
  nodeEnv: NodeEnv;
  auth: AuthConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}=${raw}: expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name}=${raw}: expected one of ${allowed.join(", ")}`);
      return fallback;
    }
    return raw as T;
  };
  const url = (name: string, protocols: string[]) => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    if (!URL.canParse(raw) || !protocols.includes(new URL(raw).protocol)) {
      problems.push(
        `${name}=${redact(raw)}: expected a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}`,
      );
      return undefined;
    }
    return raw;
  };

  const nodeEnv = oneOf("NODE_ENV", ["development", "production", "test"] as const, "development");
  const config: Config = {
    port: integer("PORT", 8000, 0, 65535),
    host: read("HOST") ?? "0.0.0.0",
    databaseUrl: url("DATABASE_URL", ["postgres:", "postgresql:", "memory:"]),
    databaseDirectUrl: url("DATABASE_DIRECT_URL", ["postgres:", "postgresql:"]),
    databasePooler: oneOf(
      "DATABASE_POOLER",
      ["none", "transaction"] as const,
      knownTransactionPooler(read("DATABASE_URL")) ? "transaction" : "none",
    ),
    dataDir: read("DATA_DIR") ?? "./data",
    dbPoolMax: integer("DB_POOL_MAX", 10, 1, 1000),
    workers: workerCount(read("WORKERS"), problems),
    shutdownTimeoutMs: integer("SHUTDOWN_TIMEOUT", 8, 2, 3600) * 1000,
    rateLimitPerMinute: integer("RATE_LIMIT_PER_MINUTE", 0, 0, 1_000_000),
    metricsPort: read("METRICS_PORT") === undefined ? undefined : integer("METRICS_PORT", 0, 1, 65535),
    tracing: tracingConfig(read, url, problems),
    corsOrigins: (read("CORS_ORIGINS") ?? "http://localhost:3000")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    logLevel: oneOf("LOG_LEVEL", ["debug", "info", "warn", "error", "silent"] as const, "info"),
    nodeEnv,
    auth: authConfig(
      {
        secret: read("BETTER_AUTH_SECRET"),
        betterAuthUrl: url("BETTER_AUTH_URL", ["http:", "https:"]),
        jwksUrl: url("AUTH_JWKS_URL", ["http:", "https:"]),
        issuer: read("AUTH_ISSUER"),
        audience: read("AUTH_AUDIENCE"),
      },
      nodeEnv,
      problems,
    ),
  };

  for (const origin of config.corsOrigins) {
    const valid = origin === "*" || (URL.canParse(origin) && new URL(origin).origin === origin);
    if (!valid) problems.push(`CORS_ORIGINS: "${origin}" is not an origin such as http://localhost:3000`);
  }

  const postgres = config.databaseUrl !== undefined && !config.databaseUrl.startsWith("memory:");
  if (config.databaseDirectUrl && !postgres) {
    problems.push("DATABASE_DIRECT_URL: only used with a PostgreSQL DATABASE_URL; set that too");
  }
  if (config.databasePooler === "transaction") {
    const reason = read("DATABASE_POOLER")
      ? "DATABASE_POOLER=transaction"
      : `DATABASE_URL: ${new URL(config.databaseUrl!).host} is a transaction-mode pooler (DATABASE_POOLER=none if not)`;
    if (!postgres) problems.push(`${reason}: a pooler needs a PostgreSQL DATABASE_URL`);
    else if (!config.databaseDirectUrl) {
      problems.push(
        `${reason}: set DATABASE_DIRECT_URL to a connection that keeps a session (to PostgreSQL itself or a ` +
          "session-mode pooler); the migrations' lock cannot be held through a transaction-mode pooler",
      );
    }
  }

  if (config.metricsPort !== undefined) {
    const last = config.metricsPort + config.workers - 1;
    if (last > 65535) problems.push(`METRICS_PORT: with WORKERS=${config.workers}, ports up to ${last} are needed`);
    if (config.port >= config.metricsPort && config.port <= last)
      problems.push("METRICS_PORT: must differ from PORT; metrics never share the API's port");
  }

  if (config.workers > 1) {
    const workers = `WORKERS=${read("WORKERS")}`;
    if (!config.databaseUrl || config.databaseUrl.startsWith("memory:")) {
      problems.push(
        `${workers}: several processes need PostgreSQL (DATABASE_URL); an embedded database belongs to one process`,
      );
    }
    if (config.port === 0) problems.push(`${workers}: processes sharing a port need a fixed PORT, not 0`);
    if (config.auth.generatedSecret) {
      problems.push(
        `${workers}: every process must check tokens with the same key; set BETTER_AUTH_SECRET or BETTER_AUTH_URL`,
      );
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function tracingConfig(
  read: (name: string) => string | undefined,
  url: (name: string, protocols: string[]) => string | undefined,
  problems: string[],
): TracingConfig | undefined {
  const base = url("OTEL_EXPORTER_OTLP_ENDPOINT", ["http:", "https:"]);
  const traces = url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ["http:", "https:"]);
  const samplerName = read("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on";
  if (!(TRACE_SAMPLERS as readonly string[]).includes(samplerName))
    problems.push(`OTEL_TRACES_SAMPLER=${samplerName}: expected one of ${TRACE_SAMPLERS.join(", ")}`);
  const rawRatio = read("OTEL_TRACES_SAMPLER_ARG");
  const ratio = rawRatio === undefined ? 1 : Number(rawRatio);
  if (!(ratio >= 0 && ratio <= 1)) problems.push(`OTEL_TRACES_SAMPLER_ARG=${rawRatio}: expected a number from 0 to 1`);
  if (!base && !traces) return undefined;
  return {
    // The signal's own variable is used as it is; the base one gets the signal's path (OTLP's spec).
    url: traces ?? `${base!.replace(/\/+$/, "")}/v1/traces`,
    sampler: samplerName as TraceSampler,
    ratio,
    serviceName: read("OTEL_SERVICE_NAME") ?? "todo-api",
  };
}

function workerCount(raw: string | undefined, problems: string[]): number {
  if (raw === undefined) return 1;
  if (raw === "auto") return availableParallelism();
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > MAX_WORKERS) {
    problems.push(`WORKERS=${raw}: expected auto or an integer from 1 to ${MAX_WORKERS}`);
    return 1;
  }
  return value;
}

function authConfig(
  vars: { secret?: string; betterAuthUrl?: string; jwksUrl?: string; issuer?: string; audience?: string },
  nodeEnv: NodeEnv,
  problems: string[],
): AuthConfig {
  const { secret, jwksUrl, issuer, audience } = vars;
  // Better Auth drops a trailing slash from its base URL before putting it in `iss` and `aud`.
  const base = vars.betterAuthUrl?.replace(/\/+$/, "");
  const auth: AuthConfig = {};
  if (secret !== undefined) {
    const bytes = new TextEncoder().encode(secret).length;
    if (bytes < MIN_SECRET_BYTES) {
      problems.push(
        `BETTER_AUTH_SECRET: ${bytes} bytes is too short, use at least ${MIN_SECRET_BYTES} (openssl rand -base64 32 makes one)`,
      );
    }
    auth.secret = secret;
  }
  const keySetUrl = jwksUrl ?? (base && `${base}/api/auth/jwks`);
  const expectedIssuer = issuer ?? base;
  const expectedAudience = audience ?? base;
  if (keySetUrl) {
    if (expectedIssuer && expectedAudience) {
      auth.keySet = { jwksUrl: keySetUrl, issuer: expectedIssuer, audience: expectedAudience };
    } else {
      problems.push(
        "AUTH_JWKS_URL: key-set tokens are checked for iss and aud; set BETTER_AUTH_URL, or AUTH_ISSUER and AUTH_AUDIENCE",
      );
    }
  } else {
    for (const [name, value] of [
      ["AUTH_ISSUER", issuer],
      ["AUTH_AUDIENCE", audience],
    ]) {
      if (value !== undefined)
        problems.push(`${name}: only checked on key-set tokens; set BETTER_AUTH_URL or AUTH_JWKS_URL too`);
    }
  }
  if (secret === undefined && !keySetUrl) {
    if (nodeEnv === "production") {
      problems.push(
        "no token verification configured: set BETTER_AUTH_SECRET (the secret your frontend signs HS256 tokens with) " +
          "or BETTER_AUTH_URL (Better Auth with the jwt() plugin; its keys at $BETTER_AUTH_URL/api/auth/jwks)",
      );
    } else {
      // So `bun run dev` works on a fresh clone; index.ts prints a token signed with it.
      auth.secret = Buffer.from(crypto.getRandomValues(new Uint8Array(MIN_SECRET_BYTES))).toString("base64url");
      auth.generatedSecret = true;
    }
  }
  return auth;
}

/** Hides a password in a URL so it can be printed. */
export function redact(raw: string): string {
  return raw.replace(/(\/\/[^:/@]*:)[^@]*@/, "$1***@");
}
