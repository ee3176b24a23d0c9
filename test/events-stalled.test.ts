// A live-events reader that stops taking bytes is dropped, so its slot frees itself: real `curl -N`
// processes against the service as a real process (`bun src/index.ts`, or the binary when
// TEST_BINARY is set), stopped with SIGSTOP (their kernel keeps acknowledging, the reader takes
// nothing), or cut off without a FIN by an iptables rule that drops what the service sends them
// (nothing acknowledged at all, as when a phone changes networks). Healthy streams beside them stay.
// The two scenarios wait ~30 s each, so they run concurrently.
import { afterAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { freePort, type RunningProcess } from "../harness/process.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { type OpenedStream, openStream } from "./events-helpers.ts";
import { driver, freshDatabase, TEST_SECRET, tokenFor } from "./helpers.ts";
import { startService } from "./support/service.ts";

const cleanups: (() => unknown)[] = [];
// Two services, their databases and fifteen curls: more than the default 5 s on a loaded machine.
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 30_000);

/**
 * The service on `host`; `url` reaches it over IPv4 loopback, so on "::" its connections are
 * IPv4-mapped IPv6 ones, found in /proc/net/tcp6 instead of tcp.
 */
async function service(host: "127.0.0.1" | "::"): Promise<RunningProcess> {
  let url = "memory://";
  if (driver === "postgres") {
    const database = await freshDatabase();
    cleanups.push(() => database.close());
    url = database.url!;
  }
  // PGlite's initdb on a loaded machine takes tens of seconds.
  const running = await startService({ DATABASE_URL: url, BETTER_AUTH_SECRET: TEST_SECRET, HOST: host }, 60_000);
  cleanups.push(() => running.stop());
  return { ...running, url: `http://127.0.0.1:${new URL(running.url).port}` };
}

interface Curl {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** What curl printed so far: the response's status line and headers, then the stream. */
  output(): string;
  /** The local port its connection came from. */
  port: number;
}

// curl's exit code when it cannot bind its --local-port.
const CURL_LOCAL_PORT_TAKEN = 45;

/**
 * `curl -N` reading the stream; resolves once its 200 and first comment have arrived. With
 * `fixedPort`, from a local port of its own: a port freePort() found free can be taken by another
 * process's outgoing connection before curl binds it, and then another is tried.
 */
async function curl(base: string, token: string, fixedPort = false): Promise<Curl> {
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ? freePort() : 0;
    const args = ["curl", "-sSiN", "-H", `Authorization: Bearer ${token}`, `${base}/api/tasks/events`];
    if (fixedPort) args.push("--local-port", String(port));
    const proc = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    cleanups.push(() => {
      proc.kill("SIGKILL");
      return proc.exited;
    });
    let text = "";
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stdout) text += decoder.decode(chunk, { stream: true });
    })();
    // A loaded machine (CI runs this beside the SIGSTOP scenario's service and curls) can be slow.
    const deadline = Date.now() + 20_000;
    while (!text.includes(": connected") && proc.exitCode === null && Date.now() < deadline) await Bun.sleep(20);
    if (proc.exitCode === CURL_LOCAL_PORT_TAKEN && fixedPort && attempt < 5) continue;
    if (!text.includes(": connected")) {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      const stderr = await new Response(proc.stderr).text();
      throw new Error(`curl did not stream (exit ${await proc.exited}, attempt ${attempt}):\n${text}\n${stderr}`);
    }
    expect(text).toStartWith("HTTP/1.1 200");
    return { proc, output: () => text, port };
  }
}

const stream = (base: string, token: string) => openStream(fetch, `${base}/api/tasks/events`, { token });

async function create(base: string, token: string, title: string): Promise<Task> {
  const response = await fetch(`${base}/api/tasks`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ title }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Task;
}

/** Opens one more stream every second until one is not refused; how long that took from `since`. */
async function eleventh(base: string, token: string, since: number, ms: number) {
  for (;;) {
    const opened = await stream(base, token);
    if (opened.status !== 429) return { opened, after: performance.now() - since };
    expect(opened.headers.get("retry-after")).toBe("30");
    if (performance.now() - since > ms) throw new Error(`still 429 after ${ms} ms`);
    await Bun.sleep(1000);
  }
}

/** The request log's lines for streams that ended, by how they ended. */
function endings(service: RunningProcess): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of service.lines()) {
    const entry = JSON.parse(line) as { route?: string; end?: string };
    if (entry.route === "/api/tasks/events" && entry.end) counts[entry.end] = (counts[entry.end] ?? 0) + 1;
  }
  return counts;
}

/** Waits (up to a sweep or two) until the ten stopped streams have ended as stalled, and no other stream. */
async function allStalled(service: RunningProcess) {
  const deadline = Date.now() + 12_000;
  while ((endings(service).stalled ?? 0) < 10 && Date.now() < deadline) await Bun.sleep(100);
  expect(endings(service)).toEqual({ stalled: 10 });
}

/** Healthy readers get a change made now, and are still open. */
async function expectHealthy(base: string, token: string, curls: Curl[], fetched: OpenedStream) {
  const task = await create(base, token, "still listening");
  await fetched.waitFor(1, 2000);
  expect(fetched.events.map((e) => e.data)).toEqual([task]);
  const deadline = Date.now() + 2000;
  while (curls.some((c) => !c.output().includes(task.id)) && Date.now() < deadline) await Bun.sleep(20);
  for (const c of curls) {
    expect(c.output()).toContain(`"id":"${task.id}"`);
    expect(c.proc.exitCode).toBeNull();
  }
}

const canDropPackets =
  process.platform === "linux" &&
  process.getuid?.() === 0 &&
  Bun.spawnSync(["iptables", "-w", "-L", "INPUT", "-n"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;

describe(`stalled event-stream readers (${driver})`, () => {
  test.concurrent("ten readers stopped by SIGSTOP free their slots within 30–45 s; healthy streams beside them stay", async () => {
    const svc = await service("::");
    const stopped = await tokenFor("stopped-readers");
    const other = await tokenFor("healthy-readers");
    const frozen = await Promise.all(Array.from({ length: 10 }, () => curl(svc.url, stopped)));
    const healthy = await Promise.all(Array.from({ length: 3 }, () => curl(svc.url, other)));
    const fetched = await stream(svc.url, other);
    expect((await stream(svc.url, stopped)).status).toBe(429);

    for (const c of frozen) c.proc.kill("SIGSTOP");
    const stoppedAt = performance.now();
    const { opened, after } = await eleventh(svc.url, stopped, stoppedAt, 45_000);
    expect(opened.status).toBe(200);
    // Not at the first quiet moment: the reader had left ~30 s of keep-alives unread.
    expect(after).toBeGreaterThan(20_000);
    expect(after).toBeLessThan(45_000);
    // The ten slots were all freed, and the new stream works.
    await allStalled(svc);
    const more = await Promise.all(Array.from({ length: 9 }, () => stream(svc.url, stopped)));
    expect(more.map((s) => s.status)).toEqual(Array(9).fill(200));
    const task = await create(svc.url, stopped, "after the drop");
    expect((await opened.waitFor(1, 2000))[0]!.data).toEqual(task);

    await expectHealthy(svc.url, other, healthy, fetched);
    for (const s of [opened, ...more, fetched]) s.close();
  }, 150_000);

  test.concurrent.skipIf(!canDropPackets)(
    "ten readers that vanish without a FIN (their packets dropped) free their slots within 60 s",
    async () => {
      const svc = await service("127.0.0.1");
      const servicePort = new URL(svc.url).port;
      const vanishing = await tokenFor("vanishing-readers");
      const other = await tokenFor("staying-readers");
      const ports = (await Promise.all(Array.from({ length: 10 }, () => curl(svc.url, vanishing, true)))).map(
        (c) => c.port,
      );
      const healthy = await Promise.all(Array.from({ length: 2 }, () => curl(svc.url, other)));
      const fetched = await stream(svc.url, other);
      expect((await stream(svc.url, vanishing)).status).toBe(429);

      // What the service sends to those ten connections never arrives, so nothing is acknowledged,
      // and the readers send nothing (no FIN, no RST): a peer gone from the network.
      const rule = (action: "-I" | "-D") =>
        ["iptables", "-w", action, "INPUT", "-i", "lo", "-p", "tcp", "--sport", servicePort, "-m", "multiport"].concat([
          "--dports",
          ports.join(","),
          "-j",
          "DROP",
        ]);
      expect(Bun.spawnSync(rule("-I")).exitCode).toBe(0);
      cleanups.push(() => Bun.spawnSync(rule("-D")));
      const cutAt = performance.now();

      const { opened, after } = await eleventh(svc.url, vanishing, cutAt, 60_000);
      expect(opened.status).toBe(200);
      // Not at the first unanswered keep-alive: a phone in a tunnel for a few seconds keeps its stream.
      expect(after).toBeGreaterThan(20_000);
      expect(after).toBeLessThan(60_000);
      await allStalled(svc);

      await expectHealthy(svc.url, other, healthy, fetched);
      for (const s of [opened, fetched]) s.close();
    },
    150_000,
  );
});
