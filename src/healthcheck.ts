// `todo-api healthcheck`: asks the service running on this host whether it is alive, so a
// container health check needs no curl or wget in the image. Liveness, not readiness: platforms
// restart an unhealthy container, and a database outage is not cured by restarting the service
// (it answers 503 on /health/ready meanwhile, for load balancers to act on).
import type { Config } from "./config.ts";

// Below the Dockerfile's HEALTHCHECK --timeout=5s, so a hung service is reported by us rather than
// killed by Docker without a word.
const TIMEOUT_MS = 3000;

/** The liveness URL of the service that `config` would start, reached over loopback. */
export function healthUrl({ host, port }: Pick<Config, "host" | "port">): string {
  const wildcard = host === "0.0.0.0" || host === "::";
  const address = wildcard ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `http://${address}:${port}/health`;
}

/** Undefined when `url` answers 200, else why not (for the health check's log). */
export async function unhealthyReason(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.body?.cancel();
    return res.status === 200 ? undefined : `${url} answered ${res.status}`;
  } catch (error) {
    return `${url} unreachable: ${error instanceof Error ? error.message : String(error)}`;
  }
}
