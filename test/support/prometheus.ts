// A real Prometheus (Debian's `prometheus` package) on loopback, scraping one target every second,
// with its data in a temp dir removed at stop(); queried through its HTTP API as a person's
// dashboard would.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type RunningProcess, startProcess } from "../../harness/process.ts";

export const prometheusBinary = Bun.which("prometheus");

interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface Prometheus {
  /** An instant query's vector. */
  query(promql: string): Promise<Sample[]>;
  /** Every series of the scrape job, with all its labels. */
  series(): Promise<Record<string, string>[]>;
  /** Waits until `promql`'s first sample satisfies `done` (a scrape has seen what was sent). */
  until(promql: string, done: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const SCRAPE_JOB = "todo-api";

export async function startPrometheus(target: URL): Promise<Prometheus> {
  if (!prometheusBinary) throw new Error("prometheus is not installed (apt-get install prometheus)");
  const dir = mkdtempSync(join(tmpdir(), "prometheus-"));
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      "scrape_configs:",
      `  - job_name: ${SCRAPE_JOB}`,
      `    metrics_path: ${target.pathname}`,
      `    static_configs: [{ targets: ["${target.host}"] }]`,
      "",
    ].join("\n"),
  );
  const port = freePort();
  const api = `http://127.0.0.1:${port}`;
  let server: RunningProcess;
  try {
    server = await startProcess(
      [
        prometheusBinary,
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { cwd: dir, env: {}, readyUrl: `${api}/-/ready`, timeoutMs: 30_000 },
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const get = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const response = await fetch(`${api}${path}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  const query = async (promql: string) => {
    const data = await get<{ result: { metric: Record<string, string>; value: [number, string] }[] }>("/api/v1/query", {
      query: promql,
    });
    return data.result.map(({ metric, value }) => ({ metric, value: Number(value[1]) }));
  };
  return {
    query,
    series: () => get<Record<string, string>[]>("/api/v1/series", { "match[]": `{job="${SCRAPE_JOB}"}` }),
    async until(promql, done, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = (await query(promql))[0]?.value;
        if (value !== undefined && done(value)) return value;
        if (Date.now() > deadline) throw new Error(`${promql} was ${value} after ${timeoutMs} ms`);
        await Bun.sleep(250);
      }
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
