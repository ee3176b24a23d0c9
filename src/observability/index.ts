// What the process entry turns on: metrics on METRICS_PORT, traces to OTEL_EXPORTER_OTLP_ENDPOINT,
// each only when configured. Call before createApp(): its request hooks exist only for what is on.
import cluster from "node:cluster";
import { version } from "../../package.json";
import type { Config } from "../config.ts";
import { disableMetrics, enableMetrics } from "./metrics.ts";
import { serveMetrics } from "./metrics-server.ts";
import { enableTracing, stopTracing } from "./tracing.ts";

interface Observability {
  /** Where metrics are served, when they are. */
  metricsUrl?: URL;
  /** Stops serving metrics and sends the spans still buffered. */
  stop(): Promise<void>;
}

export function startObservability(
  config: Pick<Config, "host" | "metricsPort" | "tracing" | "dbPoolMax">,
  database: "postgres" | "pglite",
  requestsInFlight: () => number,
): Observability {
  if (config.tracing) enableTracing(config.tracing, version);
  if (config.metricsPort === undefined) return { stop: stopTracing };
  const registry = enableMetrics({
    version,
    poolMax: database === "postgres" ? config.dbPoolMax : undefined,
    requestsInFlight,
  });
  // Workers of one service each count their own requests: worker n serves METRICS_PORT + n - 1.
  const port = config.metricsPort + (cluster.worker?.id ?? 1) - 1;
  const server = serveMetrics(registry, { host: config.host, port });
  return {
    metricsUrl: new URL("/metrics", server.url),
    stop: async () => {
      await server.stop();
      disableMetrics();
      await stopTracing();
    },
  };
}
