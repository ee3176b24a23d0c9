// Starts and stops the servers the bench loads. Each gets its own copy of the seeded database, so
// every server starts from the same rows and no server's writes reach another's reads, and each is
// smoke-tested before it is measured.
import { freePort, type RunningProcess, startProcess } from "../harness/process.ts";
import { againstDatabase } from "./against.ts";
import { children, databases } from "./cleanup.ts";
import { ROOT, type Target } from "./options.ts";
import { type BenchData, copyDatabase, dropDatabases } from "./seed.ts";
import { smokeTest } from "./smoke.ts";

/** A server under load logs every request: only this many last lines are kept, for errors. */
export const SERVER_LOG_TAIL = 20;

export interface Running {
  target: Target;
  server: RunningProcess;
  database: string;
}

/** A server on its own copy of the data, started and smoke-tested, ready to be loaded. */
export async function startTarget(
  target: Target,
  index: number,
  { serverUrl, template, data, secret }: { serverUrl: string; template: string; data: BenchData; secret: string },
  reference: Map<string, string>,
): Promise<Running> {
  const database = `${template}_${index}`;
  databases.push(database);
  const url = target.checkout
    ? await againstDatabase({ ...target, checkout: target.checkout }, serverUrl, template, database)
    : await copyDatabase(serverUrl, template, database);
  // A fixed port and /health rather than the "listening" line: with LOG_LEVEL=silent there is none,
  // and with WORKERS > 1 every worker must bind the same port.
  const port = freePort();
  const server = await startProcess(target.cmd, {
    cwd: target.checkout ?? ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...target.env,
      DATABASE_URL: url,
      BETTER_AUTH_SECRET: secret,
      HOST: "127.0.0.1",
      PORT: String(port),
    },
    readyUrl: `http://127.0.0.1:${port}/health`,
    keepLines: SERVER_LOG_TAIL,
    timeoutMs: 20_000,
  });
  children.add(server.proc);
  try {
    await smokeTest(server.url, data, reference);
  } catch (error) {
    await stopServer(server);
    throw new Error(
      `${error instanceof Error ? error.message : error}\n  server log (tail):\n${server.output().slice(-1500)}`,
    );
  }
  return { target, server, database };
}

async function stopServer({ proc }: RunningProcess) {
  proc.kill("SIGTERM");
  const stopped = await Promise.race([proc.exited.then(() => true), Bun.sleep(12_000).then(() => false)]);
  if (!stopped) {
    console.log("bench: server ignored SIGTERM for 12 s; killed");
    proc.kill("SIGKILL");
    await proc.exited;
  }
  children.delete(proc);
}

/** Stops the server, drops its database; the number of log lines it wrote. */
export async function stopTarget({ server, database }: Running, serverUrl: string): Promise<number> {
  await stopServer(server);
  await dropDatabases(serverUrl, [database]);
  return server.lineCount();
}
