// GET /metrics on a port of its own (METRICS_PORT): metric labels name the routes and the build,
// which the public port has no reason to show, and a scrape never queues behind API requests'
// hooks (no token, no CORS, no rate limit, nothing of the app runs here).
import type { Registry } from "prom-client";

export function serveMetrics(registry: Registry, { host, port }: { host: string; port: number }) {
  return Bun.serve({
    hostname: host,
    port,
    async fetch(request) {
      if (new URL(request.url).pathname !== "/metrics") return new Response("Not found\n", { status: 404 });
      if (request.method !== "GET" && request.method !== "HEAD")
        return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
    },
  });
}
