// A real HAProxy (Debian's `haproxy` package, 2.6 on bookworm) on loopback in front of replicas of
// the service, for the scale-out test. The settings are the ones docs/scaling.md recommends:
//
// - Health: GET /health/ready every 500 ms (200 ms while changing state), 2 answers to change state;
//   a refused connection marks a replica down at once (observe layer4), so a
//   killed replica stops getting requests before its next check.
// - Retries: a request whose connection could not be made was never seen by a replica, so it is
//   sent again, to another replica (retries 3, redispatch on every retry), whatever its method.
//   A request a replica took and then dropped without answer (empty-response) is sent again only
//   when it is a GET or HEAD: a POST, PUT, PATCH or DELETE may have been applied, and sending it
//   twice could create a task twice or undo a toggle. The client gets 502 and decides.
// - Every answer says which replica gave it (X-Replica), HAProxy's own 502/503 included.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./process.ts";

export const hasHaproxy = Bun.which("haproxy") !== null;

export interface Haproxy {
  pid: number;
  /** Base URL, without a trailing slash. */
  url: string;
  stop(): Promise<void>;
}

export async function startHaproxy(replicas: { name: string; port: number }[]): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), "todo-api-haproxy-"));
  const port = freePort();
  const config = join(dir, "haproxy.cfg");
  writeFileSync(
    config,
    `global
  maxconn 2000

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 2s

frontend api
  bind 127.0.0.1:${port}
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk GET /health/ready
  http-check expect status 200
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response
  http-request disable-l7-retry unless METH_GET || METH_HEAD
  http-after-response set-header X-Replica %[srv_name]
  default-server inter 500ms fastinter 200ms downinter 500ms fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down
${replicas.map((r) => `  server ${r.name} 127.0.0.1:${r.port} check`).join("\n")}
`,
  );
  const check = Bun.spawnSync(["haproxy", "-c", "-q", "-f", config], { stderr: "pipe" });
  if (check.exitCode !== 0) throw new Error(`haproxy refused its config: ${check.stderr.toString()}`);
  // -db: stay in the foreground, so the pid we hold is HAProxy's and it dies with a kill.
  const proc = Bun.spawn(["haproxy", "-db", "-f", config], { stdout: "ignore", stderr: "pipe" });
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  // Any answer will do (503 while no replica is up yet): HAProxy listens.
  while (
    !(await fetch(`${url}/health`).then(
      () => true,
      () => false,
    ))
  ) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start: ${await new Response(proc.stderr).text()}`);
    }
    await Bun.sleep(100);
  }
  return { pid: proc.pid, url, stop };
}
