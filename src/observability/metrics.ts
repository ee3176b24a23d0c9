// What an operator can count and time: the service's metrics, in Prometheus' text format, named as
// OpenTelemetry's semantic conventions name them (docs/operations.md lists each one and the PromQL
// that reads it). Served on a port of their own (metrics-server.ts), never on the API's.
//
// Other modules report through `metrics`, one call each. Until enableMetrics() it is an object of
// empty functions: with METRICS_PORT unset no metric is made and a report costs one empty call.
// Labels take only values from fixed sets (a route's pattern, a method, a status code): never a
// user id, task id, raw path or query string, so the series stay bounded whatever the callers send.
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from "prom-client";
import { DURATION_BUCKETS, RequestDurations } from "./request-durations.ts";

/** The event lag spans the 10 s keep-alive re-read that catches a lost notification. */
const EVENT_LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];

type IdempotencyConflict = "in_progress" | "different_request";

export interface Metrics {
  /** A request was answered; `route` is the matched route's pattern, empty if none. */
  request(method: string, route: string, status: number, seconds: number): void;
  /**
   * A query (or transaction) was given to the PostgreSQL pool, to count what waits for a
   * connection; call what it returns once it has settled.
   */
  poolQueryStarted(): () => void;
  queryDeadlineExceeded(): void;
  databaseUnavailable(): void;
  eventStreamOpened(): void;
  eventStreamClosed(): void;
  eventStreamRefused(): void;
  /** An event left for a stream's reader; `updatedAt` is the task's, when the change is not a delete. */
  eventSent(updatedAt: string | undefined, streamOpenedAt: number): void;
  changeFeedPage(): void;
  idempotencyReplay(): void;
  idempotencyConflict(reason: IdempotencyConflict): void;
  rateLimited(): void;
}

const nothing = () => {};
const off: Metrics = {
  request: nothing,
  poolQueryStarted: () => nothing,
  queryDeadlineExceeded: nothing,
  databaseUnavailable: nothing,
  eventStreamOpened: nothing,
  eventStreamClosed: nothing,
  eventStreamRefused: nothing,
  eventSent: nothing,
  changeFeedPage: nothing,
  idempotencyReplay: nothing,
  idempotencyConflict: nothing,
  rateLimited: nothing,
};

/** What every module reports to; empty functions until enableMetrics(). */
export const metrics: Metrics = { ...off };

let registry: Registry | undefined;

/** Back to empty functions (shutdown; a test that enabled metrics, for the files after it). */
export function disableMetrics(): void {
  Object.assign(metrics, off);
  registry = undefined;
}

/** The registry behind `metrics`, once enabled: what the metrics port serves. */
export function metricsRegistry(): Registry | undefined {
  return registry;
}

interface MetricsOptions {
  version: string;
  /** DB_POOL_MAX when the database is PostgreSQL; the pool's gauges stay empty on PGlite. */
  poolMax?: number;
  /** Requests being answered now (Bun's server counts them; an open event stream is one). */
  requestsInFlight?: () => number;
}

/** Makes the metrics and points `metrics` at them. Once per process; a second call changes nothing. */
export function enableMetrics({ version, poolMax, requestsInFlight }: MetricsOptions): Registry {
  if (registry) return registry;
  const registers = [new Registry()];
  registry = registers[0]!;
  // Process CPU, memory, file descriptors, event-loop delay (perf_hooks' monitorEventLoopDelay), heap.
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "todo_api_build_info",
    help: "Always 1; its labels name the running build.",
    labelNames: ["version", "bun_version"],
    registers,
  }).set({ version, bun_version: Bun.version }, 1);

  const durations = new RequestDurations();
  // The registry takes any object shaped as its metrics are; its type names only its own classes.
  registry.registerMetric(durations as unknown as Metric);
  new Gauge({
    name: "http_server_active_requests",
    help: "Requests being answered now, open event streams included.",
    registers,
    collect() {
      this.set(requestsInFlight?.() ?? 0);
    },
  });
  const counter = (name: string, help: string) => new Counter({ name, help, registers });
  const deadline = counter(
    "todo_api_db_query_deadline_exceeded_total",
    "Queries that got no answer within the 3 s deadline (each replaces the connection pool).",
  );
  const unavailable = counter(
    "todo_api_database_unavailable_responses_total",
    'Requests answered 503 "Database unavailable".',
  );
  const streams = new Gauge({ name: "todo_api_event_streams_open", help: "Open live event streams.", registers });
  const refused = counter(
    "todo_api_event_streams_refused_total",
    "Event streams refused with 429: the user had the most streams a process keeps open.",
  );
  const sent = counter("todo_api_events_sent_total", "Events written to live event streams.");
  const lag = new Histogram({
    name: "todo_api_event_delivery_lag_seconds",
    help: "From a task's write (its updated_at) to its event leaving this process, for changes made while the stream was open.",
    buckets: EVENT_LAG_BUCKETS,
    registers,
  });
  const feedPages = counter("todo_api_change_feed_pages_total", "Change-feed pages served (GET .../tasks/changes).");
  const replays = counter(
    "todo_api_idempotency_replays_total",
    "Writes answered with the kept answer of an earlier request with the same Idempotency-Key.",
  );
  const conflicts = new Counter({
    name: "todo_api_idempotency_conflicts_total",
    help: "Idempotency-Key refusals: in_progress (409) and different_request (422).",
    labelNames: ["reason"],
    registers,
  });
  const limited = counter(
    "todo_api_rate_limited_requests_total",
    "Requests refused with 429 by RATE_LIMIT_PER_MINUTE.",
  );

  Object.assign(metrics, {
    request: (method, route, status, seconds) => durations.observe(method, route, status, seconds),
    poolQueryStarted: poolMax === undefined ? off.poolQueryStarted : poolUse(poolMax, registers),
    queryDeadlineExceeded: () => deadline.inc(),
    databaseUnavailable: () => unavailable.inc(),
    eventStreamOpened: () => streams.inc(),
    eventStreamClosed: () => streams.dec(),
    eventStreamRefused: () => refused.inc(),
    eventSent: (updatedAt, streamOpenedAt) => {
      sent.inc();
      const at = updatedAt === undefined ? Number.NaN : Date.parse(updatedAt);
      if (at >= streamOpenedAt) lag.observe(Math.max(0, Date.now() - at) / 1000);
    },
    changeFeedPage: () => feedPages.inc(),
    idempotencyReplay: () => replays.inc(),
    idempotencyConflict: (reason) => conflicts.inc({ reason }),
    rateLimited: () => limited.inc(),
  } satisfies Metrics);
  return registry;
}

/**
 * The pool's use, as OpenTelemetry's db.client.connection.* metrics. Bun's SQL pool shows no
 * counts, so they are kept here, around each query given to it: up to `max` queries (or
 * transactions) hold a connection, the next ones wait in line for the first that finishes, as in
 * Bun's pool. "idle" is the pool's room left: connections free to take (open or still to open).
 */
function poolUse(max: number, registers: Registry[]): Metrics["poolQueryStarted"] {
  let used = 0;
  const waiting: { since: number; served: boolean }[] = [];
  new Gauge({
    name: "db_client_connection_count",
    help: "PostgreSQL pool connections by state: used (a query or transaction holds it), idle (free to take).",
    labelNames: ["db_client_connection_state"],
    registers,
    collect() {
      this.set({ db_client_connection_state: "used" }, used);
      this.set({ db_client_connection_state: "idle" }, max - used);
    },
  });
  new Gauge({ name: "db_client_connection_max", help: "DB_POOL_MAX.", registers }).set(max);
  new Gauge({
    name: "db_client_connection_pending_requests",
    help: "Queries waiting for a pool connection.",
    registers,
    collect() {
      this.set(waiting.length);
    },
  });
  const waited = new Histogram({
    name: "db_client_connection_wait_time_seconds",
    help: "How long queries that found every connection taken waited for one.",
    buckets: DURATION_BUCKETS,
    registers,
  });
  const release = () => {
    const next = waiting.shift();
    if (!next) {
      used -= 1;
      return;
    }
    next.served = true;
    waited.observe((performance.now() - next.since) / 1000);
  };
  return () => {
    if (used < max) {
      used += 1;
      return release;
    }
    const place = { since: performance.now(), served: false };
    waiting.push(place);
    // A query that fails before it got a connection (the pool closed under it) leaves the line.
    return () => {
      if (place.served) release();
      else waiting.splice(waiting.indexOf(place), 1);
    };
  };
}
