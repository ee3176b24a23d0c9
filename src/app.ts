// createApp(deps) builds the whole HTTP service. Everything it needs comes in as arguments, so
// tests build it on a fresh database with their own keys, and `export type App` feeds Eden.
import { cors } from "@elysiajs/cors";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { version } from "../package.json";
import { authenticateUnder, authentication } from "./auth/plugin.ts";
import { createUserRegistry } from "./auth/users.ts";
import type { TokenVerifier } from "./auth/verify.ts";
import type { Config } from "./config.ts";
import type { DatabaseHandle } from "./db/client.ts";
import { jsonBodies } from "./http/body.ts";
import { errorHandler } from "./http/errors.ts";
import "./http/formats.ts";
import type { Logger } from "./http/log.ts";
import { rateLimit } from "./http/rate-limit.ts";
import { requestLog } from "./http/request-log.ts";
import { eventRoutes } from "./modules/events/index.ts";
import type { LiveEvents } from "./modules/events/streams.ts";
import { healthRoutes } from "./modules/health/index.ts";
import { startTombstonePruner } from "./modules/tasks/feed.ts";
import { tasksModule } from "./modules/tasks/index.ts";

export interface AppDeps {
  config: Pick<Config, "corsOrigins"> & Partial<Pick<Config, "rateLimitPerMinute">>;
  database: DatabaseHandle;
  verifyToken: TokenVerifier;
  log: Logger;
  /** The open event streams and what wakes them; whoever starts the process closes it at shutdown. */
  events: LiveEvents;
}

export function createApp({ config, database, verifyToken, log, events }: AppDeps) {
  const routes: { method: string; path: string }[] = [];
  const registerUser = createUserRegistry(database.db);
  let pruner: { stop(): void } | undefined;
  const app = new Elysia()
    .onStart(() => {
      pruner = startTombstonePruner(database.db, (cause) => log.error("pruning tombstones failed", { cause }));
    })
    .onStop(() => pruner?.stop())
    .use(requestLog(log))
    .use(errorHandler(log, () => routes, authenticateUnder("/api", verifyToken, registerUser)))
    .use(jsonBodies)
    .use(
      cors({
        origin: config.corsOrigins.includes("*") ? true : config.corsOrigins,
        credentials: true,
        methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allowedHeaders: [
          "Authorization",
          "Content-Type",
          "If-Match",
          "If-None-Match",
          "Idempotency-Key",
          "Last-Event-ID",
          "X-Request-Id",
        ],
        exposeHeaders: ["X-Total-Count", "Location", "ETag", "X-Request-Id", "Retry-After", "Idempotent-Replayed"],
        maxAge: 600,
      }),
    )
    .use(
      openapi({
        path: "/docs",
        documentation: {
          info: { title: "todo-api", version, description: "Tasks of the users of a Better Auth frontend." },
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
          security: [{ bearer: [] }],
        },
      }),
    )
    .use(healthRoutes(database))
    .group("/api", (api) => {
      const auth = authentication(verifyToken, registerUser);
      return api
        .use(auth)
        .use(rateLimit(auth, config.rateLimitPerMinute ?? 0))
        .use(tasksModule(auth, database.db, eventRoutes(auth, database.db, events, log)));
    });
  routes.push(...app.routes);
  return app;
}

export type App = ReturnType<typeof createApp>;
