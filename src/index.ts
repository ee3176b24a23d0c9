// Process entry: config → database → migrations → app → listen → signals.
// Everything about the process lives here; the HTTP service itself is createApp().
import cluster from "node:cluster";
import { createApp } from "./app.ts";
import { developmentCurl, withDevelopmentSecret } from "./auth/dev-token.ts";
import { createTokenVerifier } from "./auth/verify.ts";
import { parseArgs, usage } from "./cli.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { type DatabaseHandle, openDatabase } from "./db/client.ts";
import { taskNotifications } from "./db/notifications.ts";
import { notReadyReason, readyUrl } from "./healthcheck.ts";
import { createLogger, type Logger } from "./http/log.ts";
import { liveEvents } from "./modules/events/streams.ts";
import { startObservability } from "./observability/index.ts";

const SHUTDOWN_GRACE_MS = 10_000;
// Bodies past 64 KiB get the app's JSON 413 (src/http/body.ts) without being read; Bun's own limit
// (an empty 413) is only a backstop for lengths no client of this API sends.
const LISTENER_BODY_LIMIT = 1024 * 1024 * 1024;

function exitWithProblems(error: ConfigError): never {
  for (const problem of error.problems) console.error(`config: ${problem}`);
  process.exit(1);
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWithProblems(error);
  }
}

/** The database, or exit 1 when the URL turns out to need a setting it lacks (a transaction-mode pooler). */
async function open(config: Config): Promise<DatabaseHandle> {
  try {
    return await openDatabase({
      url: config.databaseUrl,
      directUrl: config.databaseDirectUrl,
      pooler: config.databasePooler,
      dataDir: config.dataDir,
      poolMax: config.dbPoolMax,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWithProblems(error);
  }
}

async function openMigrated(config: Config, log: Logger): Promise<DatabaseHandle> {
  const database = await open(config);
  try {
    await database.migrate();
  } catch (error) {
    log.error("migrations failed; not starting", { cause: error });
    await database.close().catch(() => {});
    process.exit(1);
  }
  return database;
}

async function serve(config: Config, log: Logger) {
  const auth = withDevelopmentSecret(config.auth, config.dataDir);
  // A worker's primary applied the migrations before forking it.
  const database = cluster.isWorker ? await open(config) : await openMigrated(config, log);
  const notifications = taskNotifications(database, (cause) =>
    log.warn("publishing a task change failed; streams see it at their next keep-alive", { cause }),
  );
  const events = liveEvents(database.db, notifications, log);
  const observability = startObservability(config, database.kind, () => app.server?.pendingRequests ?? 0);
  const app = createApp({ config, database, verifyToken: createTokenVerifier(auth), log, events });
  // Only workers share the port: a second service started by mistake on a taken port fails
  // instead of silently taking half of the connections.
  app.listen({
    port: config.port,
    hostname: config.host,
    maxRequestBodySize: LISTENER_BODY_LIMIT,
    reusePort: cluster.isWorker,
  });
  const server = app.server!;

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    // Event streams never finish by themselves: end them first (clients reconnect elsewhere with
    // their last event id), or the drain below would wait its whole grace for them.
    const closingStreams = events.close();
    // stop() without force resolves once in-flight requests have finished; cap the wait.
    const drained = server.stop(false);
    await Promise.race([drained, Bun.sleep(SHUTDOWN_GRACE_MS)]);
    // Elysia runs onAfterResponse (the request log line) in a setImmediate; let the last ones run.
    await new Promise((resolve) => setImmediate(resolve));
    await closingStreams;
    await observability.stop();
    await database.close();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  // Only now: whoever waits for this line may signal at once, and Bun takes ~a tick to arm a
  // handler; logged before them, a SIGTERM right after it killed the process (exit 143).
  log.info("listening", {
    url: server.url.href,
    database: database.kind,
    pooler: config.databasePooler,
    metrics: observability.metricsUrl?.href,
    traces: config.tracing?.url,
  });

  const tryIt = await developmentCurl(auth, server.url);
  if (tryIt) {
    log.warn(
      `BETTER_AUTH_SECRET is not set: tokens are signed with a development secret kept in ${config.dataDir}, which \`bun run token\` uses too; try the line below`,
    );
    console.log(tryIt);
  }
}

/**
 * WORKERS > 1: this process applies the migrations, then forks the workers, which share the port
 * (SO_REUSEPORT: the kernel spreads connections over them) and only serve. It passes SIGTERM and
 * SIGINT on and exits 0 once all have stopped. A worker that dies on its own stops the others and
 * this process exits 1, so whatever supervises the service restarts all of it.
 */
async function supervise(config: Config, log: Logger) {
  const database = await openMigrated(config, log);
  await database.close();
  let running = config.workers;
  let exitCode = 0;
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  cluster.on("exit", (worker, code, signal) => {
    running -= 1;
    if (!stopping) {
      log.error("worker stopped on its own; stopping the others", { pid: worker.process.pid, code, signal });
      stop(1);
    }
    if (running === 0) {
      log.info("stopped");
      process.exit(exitCode);
    }
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      log.info("shutting down", { signal, workers: running });
      stop(0);
    });
  }
  for (let i = 0; i < config.workers; i++) cluster.fork();
  log.info("workers started", { workers: config.workers });
}

async function migrate(config: Config, log: Logger) {
  const database = await openMigrated(config, log);
  await database.close();
  log.info("migrations applied", { database: database.kind });
}

// A worker only serves. (Bun's cluster also repeats the entry in a compiled binary's argv.)
const invocation = cluster.isWorker ? { command: "serve" as const } : parseArgs(process.argv.slice(2));
if ("print" in invocation) {
  console.log(invocation.print);
  process.exit(0);
}
if ("error" in invocation) {
  console.error(`todo-api: ${invocation.error}\n\n${usage}`);
  process.exit(2);
}
const config = configOrExit();
const log = createLogger(config.logLevel);
if (invocation.command === "healthcheck") {
  const reason = await notReadyReason(readyUrl(config));
  if (reason) console.error(`healthcheck: ${reason}`);
  process.exit(reason ? 1 : 0);
}
if (invocation.command === "migrate") await migrate(config, log);
else if (config.workers > 1 && cluster.isPrimary) await supervise(config, log);
else await serve(config, log);
