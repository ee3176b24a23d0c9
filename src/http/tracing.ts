// Each request's server span, when traces are on. Register right after the request log, so that
// requests refused by a later onRequest (a 401, a 413) are traced too. With traces off it is an
// empty plugin: no hook runs on any request. (The request's duration metric comes from the request
// log's own hooks.)
import { Elysia } from "elysia";
import { requestTracer } from "../observability/tracing.ts";
import { responseStatus } from "./request-log.ts";

export function httpTracing() {
  const plugin = new Elysia({ name: "http-tracing" });
  const tracer = requestTracer();
  if (!tracer) return plugin;
  // The whole handling runs inside the request's span, so its queries find it as their parent.
  // wrap() is Elysia's hook around its fetch handler; @elysiajs/opentelemetry 1.4 uses it the same way.
  return plugin
    .wrap(
      (handle, request) =>
        (...args: unknown[]) =>
          tracer.run(request, () => handle(...args)),
    )
    .onRequest(({ request, set }) => {
      const traceResponse = tracer.traceResponse(request);
      if (traceResponse) set.headers.traceresponse = traceResponse;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, responseValue, set }) => {
      tracer.end(request, route, responseStatus(responseValue, set.status));
    });
}
