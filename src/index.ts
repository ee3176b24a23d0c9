// Process entry: config → database → migrations → app → listen → signals.
// Everything about the process lives here; the HTTP service itself is createApp().
import { createApp } from "./app.ts";
import { developmentCurl } from "./auth/dev-token.ts";
import { createTokenVerifier } from "./auth/verify.ts";
import { parseArgs, usage } from "./cli.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { openDatabase, type DatabaseHandle } from "./db/client.ts";
import { MAX_BODY_BYTES } from "./http/errors.ts";
import { createLogger, type Logger } from "./http/log.ts";
import { notReadyReason, readyUrl } from "./healthcheck.ts";

const SHUTDOWN_GRACE_MS = 10_000;

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`config: ${problem}`);
    process.exit(1);
  }
}

async function openMigrated(config: Config, log: Logger): Promise<DatabaseHandle> {
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolMax: config.dbPoolMax });
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
  const database = await openMigrated(config, log);
  const app = createApp({ config, database, verifyToken: createTokenVerifier(config.auth), log });
  app.listen({ port: config.port, hostname: config.host, maxRequestBodySize: MAX_BODY_BYTES });
  const server = app.server!;
  log.info("listening", { url: server.url.href, database: database.kind });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    // stop() without force resolves once in-flight requests have finished; cap the wait.
    const drained = server.stop(false);
    await Promise.race([drained, Bun.sleep(SHUTDOWN_GRACE_MS)]);
    await database.close();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  const tryIt = await developmentCurl(config.auth, server.url);
  if (tryIt) {
    log.warn("BETTER_AUTH_SECRET is not set: tokens are signed with a random secret that dies with this process; try the line below");
    console.log(tryIt);
  }
}

async function migrate(config: Config, log: Logger) {
  const database = await openMigrated(config, log);
  await database.close();
  log.info("migrations applied", { database: database.kind });
}

const invocation = parseArgs(process.argv.slice(2));
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
else await serve(config, log);
