// http_server_request_duration_seconds, the one metric every request updates, counted here rather
// than by prom-client's Histogram: that one validates and hashes the label set on every observe(),
// a labelled child's too, which was 1.8% of a `get`'s CPU in a profile and most of what metrics
// cost a request (bench/notes/2026-12-06.md). Here a request finds its series with one Map lookup
// and counts into an array; prom-client's registry formats what get() returns as it formats its
// own histograms, at scrape time.
/** OpenTelemetry's advice for http.server.request.duration (seconds). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

// OpenTelemetry's http.request.method: the known methods, anything else is _OTHER.
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"]);
/** The http_route of a request no route matched, or that was answered before routing (a 401, a 413). */
const UNMATCHED_ROUTE = "unmatched";

type Labels = Record<string, string | number>;

/** One line of the scrape, as prom-client's own metrics give them to the registry. */
interface Sample {
  metricName: string;
  labels: Labels;
  value: number;
}

interface Series {
  labels: Labels;
  /** Observations per bucket, not cumulative; above the last bound only `count` has them. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

const NAME = "http_server_request_duration_seconds";

export class RequestDurations {
  readonly name = NAME;
  readonly help =
    "Time from a request's arrival to its response's start (an event stream's headers), by route pattern.";
  readonly #series = new Map<string, Series>();

  /** `route` is the matched route's pattern, empty if none: the label set stays bounded. */
  observe(method: string, route: string, status: number, seconds: number): void {
    // Keyed by the labels as sent: two methods that both become _OTHER are one series.
    const known = KNOWN_METHODS.has(method) ? method : "_OTHER";
    const key = `${known} ${route} ${status}`;
    let series = this.#series.get(key);
    if (!series) {
      series = {
        labels: {
          http_request_method: known,
          http_route: route || UNMATCHED_ROUTE,
          http_response_status_code: status,
        },
        buckets: new Float64Array(DURATION_BUCKETS.length),
        sum: 0,
        count: 0,
      };
      this.#series.set(key, series);
    }
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket += 1;
    if (bucket < DURATION_BUCKETS.length) series.buckets[bucket]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** What the registry reads when scraped: cumulative buckets, +Inf, _sum and _count per series. */
  get() {
    const values: Sample[] = [];
    for (const { labels, buckets, sum, count } of this.#series.values()) {
      let below = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        below += buckets[i]!;
        values.push({ metricName: `${NAME}_bucket`, labels: { ...labels, le }, value: below });
      });
      values.push(
        { metricName: `${NAME}_bucket`, labels: { ...labels, le: "+Inf" }, value: count },
        { metricName: `${NAME}_sum`, labels, value: sum },
        { metricName: `${NAME}_count`, labels, value: count },
      );
    }
    return { name: NAME, help: this.help, type: "histogram", values, aggregator: "sum" };
  }

  reset(): void {
    this.#series.clear();
  }
}
