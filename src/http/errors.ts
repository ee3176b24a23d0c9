// Every error answer is made here, in the body of src/http/error-body.ts. Services throw HttpError
// subclasses; the root handler maps them and Elysia's own errors.
import { Elysia } from "elysia";
import { isDatabaseUnavailable } from "../db/outage.ts";
import { metrics } from "../observability/metrics.ts";
import type { ErrorBody, FieldError, ValidationErrorBody } from "./error-body.ts";
import type { Logger } from "./log.ts";
import { requestId } from "./request-log.ts";
import { fieldErrors } from "./validation.ts";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

class DatabaseUnavailableError extends HttpError {
  constructor(cause?: unknown) {
    super(503, "Database unavailable");
    metrics.databaseUnavailable();
    this.cause = cause;
  }
}

const validationDetail: Record<string, string> = {
  body: "Invalid request body",
  query: "Invalid query parameter",
  params: "Invalid path parameter",
  headers: "Invalid request header",
};

/**
 * The root error handler. Register it once, before every module: a second onError in a
 * sub-instance runs twice (elysia #1323).
 * `routes` is read when an error happens, so it sees routes added after this plugin.
 */
export function errorHandler(log: Logger, routes: () => readonly { method: string; path: string }[]) {
  return new Elysia({ name: "error-handler" }).onError({ as: "global" }, ({ code, error, request, path, set }) => {
    // set.status is what the request log reports; Elysia leaves it at 200 for NOT_FOUND, 422 for VALIDATION.
    const answer = (status: number, body: ErrorBody | ValidationErrorBody, headers?: Record<string, string>) => {
      set.status = status;
      return json(status, body, headers);
    };
    /** Ours (an HttpError) or a bug (a 500 that tells the client nothing). */
    const failure = (thrown: unknown) => {
      const cause = isDatabaseUnavailable(thrown) ? new DatabaseUnavailableError(thrown) : thrown;
      if (cause instanceof HttpError) {
        if (cause.status >= 500)
          log.error("request failed", {
            request_id: requestId(request),
            method: request.method,
            path,
            cause: cause.cause ?? cause,
          });
        return answer(cause.status, { detail: cause.detail }, cause.headers);
      }
      log.error("unhandled error", { request_id: requestId(request), method: request.method, path, code, cause });
      return answer(500, { detail: "Internal server error" });
    };
    if (error instanceof HttpError) return failure(error);
    switch (code) {
      case "VALIDATION":
        if (error.type === "response") break; // our own output broke its schema: a 500
        return answer(400, {
          detail: validationDetail[error.type] ?? "Invalid request",
          errors: describeFields(error),
        });
      case "PARSE":
        // A route's own parser may refuse a body that is JSON but not what it takes.
        if (error.cause instanceof HttpError) return failure(error.cause);
        return answer(400, { detail: "Request body is not valid JSON" });
      case "NOT_FOUND": {
        const allow = allowedMethods(routes(), path, request.method);
        return allow.length > 0
          ? answer(405, { detail: "Method not allowed" }, { allow: allow.join(", ") })
          : answer(404, { detail: "Not found" });
      }
    }
    return failure(error);
  });
}

/**
 * Elysia prints the offending value into its messages; a value nested thousands deep (a 64 KiB body
 * of `[`) overflows the stack there, and this handler must answer whatever it was given.
 */
function describeFields(error: Parameters<typeof fieldErrors>[0]): FieldError[] {
  try {
    return fieldErrors(error);
  } catch (failure) {
    if (!(failure instanceof RangeError)) throw failure;
    return [{ field: error.type, message: "is nested too deeply" }];
  }
}

function json(status: number, body: ErrorBody | ValidationErrorBody, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

const patterns = new Map<string, RegExp>();
function pattern(path: string): RegExp {
  let re = patterns.get(path);
  if (!re) {
    const source = path
      .split("/")
      .map((part) =>
        part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("/");
    re = new RegExp(`^${source}/?$`);
    patterns.set(path, re);
  }
  return re;
}

function allowedMethods(routes: readonly { method: string; path: string }[], path: string, method: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    // CORS answers OPTIONS on every path; it says nothing about which methods a path has.
    if (route.method === method || route.method === "OPTIONS") continue;
    if (pattern(route.path).test(path)) methods.add(route.method);
  }
  return [...methods];
}
