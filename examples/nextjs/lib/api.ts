// The typed API client: Eden's treaty over the service's own `App` type, imported from the
// workspace package `todo-api` (no path alias, no generated code).
import { treaty } from "@elysiajs/eden";
import type { App } from "todo-api/src/app.ts";
import type { Task as ServiceTask } from "todo-api/src/modules/tasks/model.ts";
import { apiToken, forgetApiToken } from "./token.ts";

export function createApi(url: string) {
  return treaty<App>(url, {
    // Dates stay the ISO strings the API sends, as the types say (the service README says why).
    parseDate: false,
    headers: async () => ({ authorization: `Bearer ${await apiToken()}` }),
    onResponse: (response) => {
      if (response.status === 401) forgetApiToken();
    },
  });
}

export type Api = ReturnType<typeof createApi>;
export type Task = NonNullable<Awaited<ReturnType<Api["api"]["tasks"]["get"]>>["data"]>[number];
export type TaskChanges = Parameters<ReturnType<Api["api"]["tasks"]>["patch"]>[0];
export type TaskQuery = NonNullable<NonNullable<Parameters<Api["api"]["tasks"]["get"]>[0]>["query"]>;

/**
 * The contract's one-sentence error. Elysia's types also list a 422 validation shape for every
 * route with a schema, which this service never sends (its validation errors are 400s).
 */
export function detailOf({ value }: { value: unknown }): string {
  if (typeof value === "object" && value !== null && "detail" in value && typeof value.detail === "string")
    return value.detail;
  // Eden reports a fetch that failed (the API is down, or CORS refused) as a 503 holding the error.
  // (A 304 has no body; the browser answers a revalidated fetch from its cache, so none arrives here.)
  return value instanceof Error ? "The API cannot be reached." : "The API gave an unexpected answer.";
}

// Checked by `tsc --noEmit`: if Eden's types degraded to `any` across the package boundary (a
// common monorepo failure), Task would stop being exactly the service's Task and this would fail.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
export type EdenTypesReachThisPackage = Assert<Equal<Task, ServiceTask>>;
