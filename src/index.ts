// Process entry: signals → config → database → migrations → app → listen.
// Everything about the process lives here; the HTTP service itself is createApp(). The executable
// starts at src/start.ts, which arms the stop handlers before this module loads.
import cluster from "node:cluster";
import { createApp } from "./app.ts";
import { developmentCurl, withDevelopmentSecret } from "./auth/dev-token.ts";
import { createTokenVerifier } from "./auth/verify.ts";
import { parseArgs, usage } from "./cli.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { type DatabaseHandle, openDatabase } from "./db/client.ts";
import { DataDirError } from "./db/data-dir.ts";
import { taskNotifications } from "./db/notifications.ts";
import { healthUrl, unhealthyReason } from "./healthcheck.ts";
import { createLogger, type Logger } from "./http/log.ts";
import { liveEvents } from "./modules/events/streams.ts";
import { startObservability } from "./observability/index.ts";
import { onStopSignal } from "./stop-signals.ts";

// Of the shutdown budget (SHUTDOWN_TIMEOUT), what closing the database may take after the drain.
const CLOSE_RESERVE_MS = 1500;
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

/**
 * The database, or exit 1 when the URL turns out to need a setting it lacks (a transaction-mode
 * pooler) or DATA_DIR cannot be used (another process holds it, it cannot be written).
 */
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
    if (error instanceof ConfigError) exitWithProblems(error);
    if (!(error instanceof DataDirError)) throw error;
    console.error(error.message);
    process.exit(1);
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
    log.warn("publishing a task change failed; streams re-read the feed within 10 s and see it then", { cause }),
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
    // The whole stop fits in SHUTDOWN_TIMEOUT, which ends before the platform's own stop timeout
    // (10 s by default in Docker, podman and Kubernetes) turns it into a SIGKILL.
    setTimeout(() => {
      log.error("shutdown took longer than SHUTDOWN_TIMEOUT; exiting without closing the database");
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    // Event streams never finish by themselves: end them first (clients reconnect elsewhere with
    // their last event id), or the drain below would wait its whole grace for them.
    const closingStreams = events.close();
    // stop() without force resolves once in-flight requests have finished; cap the wait so that
    // closing the database still fits in the budget.
    const drained = server.stop(false);
    await Promise.race([drained, Bun.sleep(Math.max(0, config.shutdownTimeoutMs - CLOSE_RESERVE_MS))]);
    // Elysia runs onAfterResponse (the request log line) in a setImmediate; let the last ones run.
    await new Promise((resolve) => setImmediate(resolve));
    await closingStreams;
    await observability.stop();
    await database.close();
    log.info("stopped");
    process.exit(0);
  };
  onStopSignal((signal) => void shutdown(signal));
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
  onStopSignal((signal) => {
    log.info("shutting down", { signal, workers: running });
    stop(0);
  });
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
// Until the service listens, a stop ends start-up where it is; `migrate` or `healthcheck` stopped
// half-way did not do what was asked.
onStopSignal((signal) => {
  const code = invocation.command === "serve" ? 0 : 1;
  log.info("stopped during start-up", { signal, command: invocation.command });
  process.exit(code);
});
if (invocation.command === "healthcheck") {
  const reason = await unhealthyReason(healthUrl(config));
  if (reason) console.error(`healthcheck: ${reason}`);
  process.exit(reason ? 1 : 0);
}
if (invocation.command === "migrate") await migrate(config, log);
else if (config.workers > 1 && cluster.isPrimary) await supervise(config, log);
else await serve(config, log);
