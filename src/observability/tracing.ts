// Traces, when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set: a server span per request
// (src/http/tracing.ts starts and ends it), a child span per SQL statement and per token
// verification, exported over OTLP/HTTP by OpenTelemetry's own SDK, as JSON: OTLP/HTTP receivers
// take JSON as well as protobuf, and JSON needs no protobuf encoder in the binary (nor a decoder in
// the test).
//
// Not @elysiajs/opentelemetry: it starts OpenTelemetry's NodeSDK, whose auto-instrumentation hooks
// require() (which Bun's loader does not run through) and which brings every exporter, gRPC's
// included, into the binary; and it makes a span of every lifecycle hook of every request. The
// spans here are the ones an operator asks for, made by the few packages that make them.
//
// Until enableTracing() `tracing` passes work through untouched: no span, no context, no header.
// A span's attributes are the route's pattern, the method, the status and SQL text: never a
// parameter, a body, a header's value or a token (test/tracing.test.ts looks in every one).
import { AsyncLocalStorage } from "node:async_hooks";
import type { PGlite } from "@electric-sql/pglite";
import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { TracingConfig } from "../config.ts";

interface Tracing {
  /** A statement sent to the database: a child span of the request's, named by its first keyword. */
  sql<T>(text: string, work: PromiseLike<T>): PromiseLike<T>;
  /** `work` as a child span of the request's (token verification). */
  span<T>(name: string, work: () => Promise<T>): Promise<T>;
}

const off: Tracing = {
  sql: (_, work) => work,
  span: (_, work) => work(),
};

/** What every module reports to; passes work through until enableTracing(). */
export const tracing: Tracing = { ...off };

interface RequestTracer {
  /** Runs `handle` (the whole of the request's handling) with the request's span as its parent. */
  run<T>(request: Request, handle: () => T): T;
  /** The `traceresponse` header's value: the request's trace id, for a client's error report. */
  traceResponse(request: Request): string | undefined;
  /** Names and ends the request's span. */
  end(request: Request, route: string, status: number): void;
}

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

function samplerOf({ sampler, ratio }: TracingConfig): Sampler {
  const root = sampler.endsWith("always_on")
    ? new AlwaysOnSampler()
    : sampler.endsWith("always_off")
      ? new AlwaysOffSampler()
      : new TraceIdRatioBasedSampler(ratio);
  return sampler.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root;
}

let provider: TracerProvider | undefined;
let requests: RequestTracer | undefined;

/** The request side of tracing (src/http/tracing.ts), once enabled. */
export function requestTracer(): RequestTracer | undefined {
  return requests;
}

/** Starts exporting spans and points `tracing` at them. Once per process. */
export function enableTracing(config: TracingConfig, version: string): RequestTracer {
  if (requests) return requests;
  provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": config.serviceName, "service.version": version }),
    sampler: samplerOf(config),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: config.url }) })],
  });
  const tracer: Tracer = provider.getTracer("todo-api", version);
  const propagator = new W3CTraceContextPropagator();
  // The request's span for whatever its handling calls, across awaits.
  const current = new AsyncLocalStorage<Span>();
  const spans = new WeakMap<Request, Span>();

  /** A child of the current request's span, only when that one is recorded: unsampled requests make none. */
  const parentContext = (): Context | undefined => {
    const parent = current.getStore();
    return parent?.isRecording() ? trace.setSpan(ROOT_CONTEXT, parent) : undefined;
  };

  Object.assign(tracing, {
    sql(text, work) {
      const parent = parentContext();
      if (!parent) return work;
      const span = tracer.startSpan(
        text.slice(0, text.search(/\s|$/)).toUpperCase(),
        { kind: SpanKind.CLIENT, attributes: { "db.system.name": "postgresql", "db.query.text": text } },
        parent,
      );
      return work.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorName(error) });
          span.end();
          throw error;
        },
      );
    },
    async span(name, work) {
      const parent = parentContext();
      if (!parent) return work();
      const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL }, parent);
      try {
        return await work();
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorName(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  } satisfies Tracing);

  requests = {
    run(request, handle) {
      // An incoming traceparent makes this span a child of the caller's.
      const caller = propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
      const span = tracer.startSpan(
        request.method,
        { kind: SpanKind.SERVER, attributes: { "http.request.method": request.method } },
        caller,
      );
      spans.set(request, span);
      return current.run(span, handle);
    },
    traceResponse(request) {
      const context = spans.get(request)?.spanContext();
      if (!context) return undefined;
      return `00-${context.traceId}-${context.spanId}-0${context.traceFlags & 1}`;
    },
    end(request, route, status) {
      const span = spans.get(request);
      if (!span) return;
      spans.delete(request);
      if (route) {
        span.updateName(`${request.method} ${route}`);
        span.setAttribute("http.route", route);
      }
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
  return requests;
}

/**
 * PGlite's statements as spans too: drizzle's PGlite driver sends each one through `query` (the
 * PostgreSQL pool's go through src/db/replaceable-pool.ts).
 */
export function traceStatements(client: PGlite): void {
  const query = client.query.bind(client);
  client.query = ((text: string, ...rest: [never?, never?]) =>
    tracing.sql(text, query(text, ...rest))) as PGlite["query"];
}

/** Sends the spans still buffered and passes work through again (shutdown; a test, for the files after it). */
export async function stopTracing(): Promise<void> {
  const stopping = provider;
  provider = undefined;
  requests = undefined;
  Object.assign(tracing, off);
  await stopping?.shutdown();
}

/** An error's class, never its message: a driver's message may quote the query's parameters. */
function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}
