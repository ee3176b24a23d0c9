// A real PgBouncer (Debian's `pgbouncer` package, 1.18 on bookworm) in front of a PostgreSQL, on
// loopback, for the suite's pooled run (test/with-pgbouncer.ts) and the scale-out test. Its config
// lives in a temp dir of its own, removed by stop(). As root it runs as the `postgres` user, which
// must be able to read that dir: PgBouncer refuses to run as root.
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./process.ts";

export const hasPgBouncer = Bun.which("pgbouncer") !== null;

export interface PgBouncer {
  /** PgBouncer's own process (setpriv execs it), for CPU accounting. */
  pid: number;
  port: number;
  /** `postgresUrl` with PgBouncer's host and port: the same user and database, pooled. */
  url: string;
  /** SIGTERM (PgBouncer's immediate shutdown), then the temp dir goes. */
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** transaction (what hosted pooled URLs run) or session. */
  poolMode?: "transaction" | "session";
  /** Server connections per database and user. */
  poolSize?: number;
}

/** Starts PgBouncer in front of the server of `postgresUrl`, resolves once it accepts connections. */
export async function startPgBouncer(
  postgresUrl: string,
  { poolMode = "transaction", poolSize = 20 }: PgBouncerOptions = {},
): Promise<PgBouncer> {
  const target = new URL(postgresUrl);
  const user = decodeURIComponent(target.username) || "postgres";
  const dir = mkdtempSync(join(tmpdir(), "todo-api-pgbouncer-"));
  const port = freePort();
  // `*`: every database of the server is reachable under its own name, so each test file's fresh
  // database is too. trust: loopback only, as the test server itself is configured.
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    `[databases]
* = host=${target.hostname} port=${target.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, "users.txt")}
pool_mode = ${poolMode}
default_pool_size = ${poolSize}
max_client_conn = 2000
logfile = ${join(dir, "pgbouncer.log")}
`,
  );
  writeFileSync(join(dir, "users.txt"), `"${user}" ""\n`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const id = (flag: string) => Number(Bun.spawnSync(["id", flag, "postgres"]).stdout.toString().trim());
    chownSync(dir, id("-u"), id("-g"));
  }
  // setpriv execs PgBouncer itself, so the pid we hold (and signal) is PgBouncer's.
  const command = ["pgbouncer", join(dir, "pgbouncer.ini")];
  const proc = Bun.spawn(
    asRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", ...command] : command,
    {
      stdout: "ignore",
      stderr: "pipe",
    },
  );
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).catch(() => undefined);
    if (socket) {
      socket.end();
      break;
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      const log = await Bun.file(join(dir, "pgbouncer.log"))
        .text()
        .catch(() => "");
      await stop();
      throw new Error(`pgbouncer did not start: ${await new Response(proc.stderr).text()}\n${log}`);
    }
    await Bun.sleep(50);
  }
  const url = new URL(postgresUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return { pid: proc.pid, port, url: url.href, stop };
}
