// One JSON line per request, and the request id that ties it to the error lines of the same
// request and to the caller's own logs. Only what identifies the request goes in: never a
// header, a query string, a body or a token. The same hooks report the request's duration metric,
// so that metrics add no hook of their own to a request (bench/notes/2026-12-06.md).
import { Elysia, StatusMap } from "elysia";
import { metrics } from "../observability/metrics.ts";
import type { LogFields, Logger } from "./log.ts";

// A caller's id is echoed into our logs and headers, so only a short, plain one is taken as is.
const WELL_FORMED_ID = /^[A-Za-z0-9._-]{1,128}$/;

interface Trace {
  id: string;
  startedAt: number;
  log: Logger;
  /** Set for a response that streams: its line waits for the stream's end. */
  stream?: { response?: LogFields & { status: number }; end?: LogFields };
}

// Keyed by the Request so the root error handler can find the id without knowing this plugin.
const traces = new WeakMap<Request, Trace>();

/** The id of a request this plugin has seen: the caller's X-Request-Id if well formed, else ours. */
export function requestId(request: Request): string | undefined {
  return traces.get(request)?.id;
}

/**
 * For a response that streams (live events): the request's one line is written when the returned
 * function is called at the stream's end, with the stream's duration and the fields given, instead
 * of when the response starts. Call it before the response starts.
 */
export function logWhenStreamEnds(request: Request): (fields: LogFields) => void {
  const trace = traces.get(request);
  if (!trace) return () => {};
  const stream: NonNullable<Trace["stream"]> = {};
  trace.stream = stream;
  return (fields) => {
    stream.end = fields;
    if (stream.response) write(trace, stream.response, fields);
  };
}

/** Since the request arrived: what its log line and its duration metric say. */
const elapsedMs = (trace: Trace) => performance.now() - trace.startedAt;

function write(trace: Trace, fields: LogFields & { status: number }, more: LogFields = {}) {
  const line = { ...fields, duration_ms: Math.round(elapsedMs(trace) * 100) / 100, ...more };
  if (fields.status >= 500) trace.log.error("request", line);
  else trace.log.info("request", line);
}

/** The status a response went out with: the Response's own, else what `set.status` says. */
export function responseStatus(responseValue: unknown, status: number | keyof StatusMap | undefined): number {
  if (responseValue instanceof Response) return responseValue.status;
  return typeof status === "number" ? status : (StatusMap[status ?? "OK"] ?? 200);
}

/**
 * A CORS preflight is answered by @elysiajs/cors from its onRequest hook, and Elysia runs no later
 * hook for a request an onRequest hook answered, onAfterResponse included. The wrap around the
 * whole handler still sees the response: preflights get their line from there.
 */
async function logPreflight(request: Request, response: Response | Promise<Response>): Promise<Response> {
  const answer = await response;
  const trace = traces.get(request);
  if (trace) {
    metrics.request(request.method, "", answer.status, elapsedMs(trace) / 1000);
    write(trace, { request_id: trace.id, method: request.method, route: null, status: answer.status, user_id: null });
  }
  return answer;
}

/**
 * Register before every other plugin: its onRequest must run first, so that even a request
 * refused there (413) carries an id. Statuses come from `set.status`, which the root error
 * handler sets for the responses it makes.
 */
export function requestLog(log: Logger) {
  return new Elysia({ name: "request-log" })
    .wrap((handle, request) => (...args: unknown[]) => {
      const response = handle(...args) as unknown as Response | Promise<Response>;
      return request.method === "OPTIONS" ? logPreflight(request, response) : response;
    })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get("x-request-id");
      const id = incoming !== null && WELL_FORMED_ID.test(incoming) ? incoming : crypto.randomUUID();
      traces.set(request, { id, startedAt: performance.now(), log });
      set.headers["x-request-id"] = id;
    })
    .onAfterResponse({ as: "global" }, (context) => {
      const { request, set, route, responseValue } = context;
      const trace = traces.get(request);
      if (!trace) return;
      const status = responseStatus(responseValue, set.status);
      // Up to the response's start: for an event stream, its headers.
      metrics.request(request.method, route, status, elapsedMs(trace) / 1000);
      const user = (context as { user?: { id?: unknown } }).user;
      const fields = {
        request_id: trace.id,
        method: request.method,
        route: route || null, // a path no route matched is not logged: it is whatever the caller sent
        status,
        user_id: typeof user?.id === "string" ? user.id : null,
      };
      const stream = trace.stream;
      if (!stream) write(trace, fields);
      else if (stream.end) write(trace, fields, stream.end);
      else stream.response = fields;
    });
}
