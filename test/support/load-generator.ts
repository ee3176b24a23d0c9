// Concurrent writers and readers against a running service, each request with its own id, to see
// what was acknowledged when the service is killed or stopped under load.
export interface LoadResult {
  requestId: string;
  method: string;
  /** The task title a POST sent. */
  title?: string;
  status?: number;
  /** The created task's id, for a 201. */
  taskId?: string;
  /** Why no response came (Bun's error code, e.g. ECONNREFUSED). */
  error?: string;
}

/**
 * `writers` loops creating tasks and `readers` loops listing them, as fast as the service answers,
 * each request with its own X-Request-Id, until stop() or `maxRequests`. A loop whose request
 * fails (nothing listening) waits 10 ms before the next, so the generator stays bounded.
 */
export function loadGenerator(url: string, token: string, { writers = 6, readers = 2, maxRequests = 5000 } = {}) {
  const results: LoadResult[] = [];
  let stopped = false;
  let sent = 0;
  const headers = (requestId: string) => ({
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    "x-request-id": requestId,
  });
  const loop = async (name: string, write: boolean) => {
    for (let i = 0; !stopped && sent < maxRequests; i++) {
      sent++;
      const requestId = `${name}-${i}`;
      const result: LoadResult = { requestId, method: write ? "POST" : "GET" };
      if (write) result.title = `load ${requestId}`;
      results.push(result);
      try {
        const res = write
          ? await fetch(`${url}/api/tasks`, {
              method: "POST",
              headers: headers(requestId),
              body: JSON.stringify({ title: result.title }),
            })
          : await fetch(`${url}/api/tasks?limit=5`, { headers: headers(requestId) });
        const body = await res.text();
        result.status = res.status;
        if (res.status === 201) result.taskId = (JSON.parse(body) as { id: string }).id;
      } catch (error) {
        result.error = (error as { code?: string }).code ?? String(error);
        await Bun.sleep(10);
      }
    }
  };
  const loops = [
    ...Array.from({ length: writers }, (_, i) => loop(`w${i}`, true)),
    ...Array.from({ length: readers }, (_, i) => loop(`r${i}`, false)),
  ];
  return {
    results,
    acknowledged: () => results.filter((r) => r.status === 201),
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return results;
    },
  };
}
