// createApp(deps) builds the whole HTTP service. Everything it needs comes in as arguments, so
// tests build it on a fresh database with their own keys, and `export type App` feeds Eden.
import { cors } from "@elysiajs/cors";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { version } from "../package.json";
import { authentication } from "./auth/plugin.ts";
import { cachedUserUpsert } from "./auth/users.ts";
import type { TokenVerifier } from "./auth/verify.ts";
import type { Config } from "./config.ts";
import type { DatabaseHandle } from "./db/client.ts";
import { embeddedVacuumJob, startHousekeeping } from "./db/housekeeping.ts";
import { jsonBodies } from "./http/body.ts";
import { errorHandler } from "./http/errors.ts";
import "./http/typebox-format-patch.ts";
import type { Logger } from "./http/log.ts";
import { requestBudget } from "./http/rate-limit.ts";
import { requestLog } from "./http/request-log.ts";
import { httpTracing } from "./http/tracing.ts";
import { docsPage } from "./modules/docs/index.ts";
import { eventRoutes, publishChanges } from "./modules/events/index.ts";
import type { LiveEvents } from "./modules/events/streams.ts";
import { feedRoutes } from "./modules/feed/index.ts";
import { pruneTombstonesJob } from "./modules/feed/service.ts";
import { healthRoutes } from "./modules/health/index.ts";
import { idempotency } from "./modules/idempotency/index.ts";
import { pruneKeysJob } from "./modules/idempotency/service.ts";
import { taskRoutes } from "./modules/tasks/index.ts";
import { inBothShapes } from "./modules/user-scope.ts";

interface AppDeps {
  config: Pick<Config, "corsOrigins"> & Partial<Pick<Config, "rateLimitPerMinute">>;
  database: DatabaseHandle;
  verifyToken: TokenVerifier;
  log: Logger;
  /** The open event streams and what wakes them; whoever starts the process closes it at shutdown. */
  events: LiveEvents;
}

/** Everything under it needs a token. */
const API_PREFIX = "/api";

export function createApp({ config, database, verifyToken, log, events }: AppDeps) {
  const routes: { method: string; path: string }[] = [];
  const auth = authentication({
    prefix: API_PREFIX,
    verify: verifyToken,
    registerUser: cachedUserUpsert(database.db),
  });
  const spendRequest = requestBudget(config.rateLimitPerMinute ?? 0);
  let housekeeping: { stop(): void } | undefined;
  // Elysia finds the path at the first "/" from a fixed offset of request.url, by default 11
  // ("http://" and a 4-character host), so a 1–3 character Host header moved the cut into the path
  // (/xyz/api/tasks was served as /api/tasks). From offset 7 the first "/" is always the path's: a
  // host never contains one, and Bun's listener here speaks plain http://. Same cost per request.
  const app = new Elysia({ handler: { standardHostname: false } })
    // Only a listening service tidies the database; an app a test drives through handle() does not.
    .onStart(() => {
      const jobs = [pruneKeysJob(database.db), pruneTombstonesJob(database.db)];
      if (database.kind === "pglite") jobs.push(embeddedVacuumJob(database.db));
      housekeeping = startHousekeeping(jobs, (job, cause) => log.error(`${job} failed`, { cause }));
    })
    .onStop(() => housekeeping?.stop())
    .use(requestLog(log))
    .use(httpTracing())
    .use(errorHandler(log, () => routes))
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
        exposeHeaders: [
          "X-Total-Count",
          "Location",
          "ETag",
          "X-Request-Id",
          "Retry-After",
          "Idempotent-Replayed",
          "traceresponse",
        ],
        maxAge: 600,
      }),
    )
    .use(
      openapi({
        path: "/docs",
        provider: null, // the page is docsPage's, served from here rather than a CDN
        documentation: {
          info: { title: "todo-api", version, description: "Tasks of the users of a Better Auth frontend." },
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
          security: [{ bearer: [] }],
        },
      }),
    )
    .use(docsPage({ specPath: "/docs/json", title: "todo-api" }))
    .use(healthRoutes(database))
    .group(API_PREFIX, (api) =>
      api
        .use(auth)
        // A derive runs before body and query validation: a caller over its budget learns nothing more.
        .derive(({ user }) => {
          spendRequest(user.id);
          return {};
        })
        .use(publishChanges(auth, events))
        .use(idempotency(auth, database.db))
        // The feed's and the events' static paths first: /:id would take "changes" for a task id.
        .use(inBothShapes(auth, () => feedRoutes(auth, database.db)))
        .use(inBothShapes(auth, () => eventRoutes(auth, database.db, events, log)))
        .use(inBothShapes(auth, () => taskRoutes(auth, database.db))),
    );
  routes.push(...app.routes);
  return app;
}

export type App = ReturnType<typeof createApp>;
