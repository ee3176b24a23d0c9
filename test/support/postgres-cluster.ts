// A throwaway PostgreSQL cluster of our own, for tests that stop and restart the database: the
// shared server on 5432 is never stopped, paused or proxied for an outage.
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../harness/process.ts";

/** PostgreSQL's binaries from the newest Debian package present, or undefined when none is. */
function postgresBin(): string | undefined {
  try {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    return versions[0] && join("/usr/lib/postgresql", versions[0], "bin");
  } catch {
    return undefined;
  }
}

export const hasPostgresBinaries = postgresBin() !== undefined;

export interface Cluster {
  url: string;
  port: number;
  start(): Promise<void>;
  /** `fast`: what `systemctl stop` does; clients get 57P01 and then connection refused. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL cluster in a temp dir on a spare port, with its own `todo` database. initdb
 * refuses to run as root, so as root the cluster belongs to the `postgres` user.
 */
export async function startCluster(): Promise<Cluster> {
  const bin = postgresBin();
  if (!bin) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql");
  const dir = mkdtempSync(join(tmpdir(), "todo-api-pg-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot)
    chownSync(dir, Number(run(["id", "-u", "postgres"]).trim()), Number(run(["id", "-g", "postgres"]).trim()));
  const as = (cmd: string[]) => (asRoot ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd);
  const data = join(dir, "data");
  const port = freePort();
  run(as([`${bin}/initdb`, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]));
  const cluster: Cluster = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/todo`,
    start: async () => {
      const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=50`;
      run(as([`${bin}/pg_ctl`, "-D", data, "-l", join(dir, "log"), "-w", "-o", options, "start"]));
    },
    stop: async () => {
      run(as([`${bin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]));
    },
    destroy: async () => {
      Bun.spawnSync(as([`${bin}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"]));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  run(as([`${bin}/createdb`, "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "todo"]));
  return cluster;
}

function run(cmd: string[]): string {
  const result = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}
