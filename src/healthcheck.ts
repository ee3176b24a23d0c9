// `todo-api healthcheck`: asks the service running on this host whether it is ready, so a
// container health check needs no curl or wget in the image.
import type { Config } from "./config.ts";

// Above /health/ready's own 2 s database wait, below the Dockerfile's HEALTHCHECK --timeout=5s,
// so a hung service is reported by us rather than killed by Docker without a word.
const TIMEOUT_MS = 3000;

/** The readiness URL of the service that `config` would start, reached over loopback. */
export function readyUrl({ host, port }: Pick<Config, "host" | "port">): string {
  const wildcard = host === "0.0.0.0" || host === "::";
  const address = wildcard ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `http://${address}:${port}/health/ready`;
}

/** Undefined when `url` answers 200, else why not (for the health check's log). */
export async function notReadyReason(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.body?.cancel();
    return res.status === 200 ? undefined : `${url} answered ${res.status}`;
  } catch (error) {
    return `${url} unreachable: ${error instanceof Error ? error.message : String(error)}`;
  }
}
