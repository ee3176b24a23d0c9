// Each request's duration metric and server span. Register right after the request log, so that
// requests refused by a later onRequest (a 401, a 413) are timed too. With metrics and traces both
// off it is an empty plugin: no hook runs on any request.
import { Elysia } from "elysia";
import { metrics, metricsRegistry } from "../observability/metrics.ts";
import { requestTracer } from "../observability/tracing.ts";
import { responseStatus } from "./request-log.ts";

export function httpObservability() {
  const plugin = new Elysia({ name: "http-observability" });
  const measuring = metricsRegistry() !== undefined;
  const tracer = requestTracer();
  if (!measuring && !tracer) return plugin;
  const startedAt = new WeakMap<Request, number>();
  // The whole handling runs inside the request's span, so its queries find it as their parent.
  // wrap() is Elysia's hook around its fetch handler; @elysiajs/opentelemetry 1.4 uses it the same way.
  if (tracer)
    plugin.wrap(
      (handle, request) =>
        (...args: unknown[]) =>
          tracer.run(request, () => handle(...args)),
    );
  return plugin
    .onRequest(({ request, set }) => {
      if (measuring) startedAt.set(request, performance.now());
      const traceResponse = tracer?.traceResponse(request);
      if (traceResponse) set.headers.traceresponse = traceResponse;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, responseValue, set }) => {
      const status = responseStatus(responseValue, set.status);
      const start = startedAt.get(request);
      if (start !== undefined) metrics.request(request.method, route, status, (performance.now() - start) / 1000);
      tracer?.end(request, route, status);
    });
}
