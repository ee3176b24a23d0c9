// Liveness and readiness for load balancers and container health checks; no token needed.
import { Elysia, t } from "elysia";
import type { DatabaseHandle } from "../../db/client.ts";

// Readiness must answer quickly even when the database hangs rather than refuses.
const READY_TIMEOUT_MS = 2000;

async function databaseUp(database: DatabaseHandle): Promise<boolean> {
  let timer: Timer | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([database.ping().then(() => true as const), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(database: DatabaseHandle) {
  return new Elysia({ name: "health", prefix: "/health", detail: { tags: ["Health"] } })
    .get("", () => ({ status: "healthy" as const }), {
      response: { 200: t.Object({ status: t.Literal("healthy") }) },
      detail: { summary: "Liveness: 200 while the process runs", security: [] },
    })
    .get(
      "/ready",
      async ({ status }) =>
        (await databaseUp(database))
          ? { status: "ready" as const, database: "up" as const }
          : status(503, { status: "not ready" as const, database: "down" as const }),
      {
        response: {
          200: t.Object({ status: t.Literal("ready"), database: t.Literal("up") }),
          503: t.Object({ status: t.Literal("not ready"), database: t.Literal("down") }),
        },
        detail: { summary: "Readiness: 200 when the database answers", security: [] },
      },
    );
}
