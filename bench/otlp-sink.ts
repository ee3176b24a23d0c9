// Where a bench run's service sends its traces (--traces): an OTLP/HTTP receiver on loopback that
// takes each batch and drops it, so the cost measured is the service's own, not a collector's.
let sink: string | undefined;

/** The sink's base URL (OTEL_EXPORTER_OTLP_ENDPOINT), started once per run; it never keeps the run alive. */
export function otlpSink(): string {
  if (sink) return sink;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      await request.arrayBuffer();
      return Response.json({});
    },
  });
  server.unref();
  sink = server.url.origin;
  return sink;
}
