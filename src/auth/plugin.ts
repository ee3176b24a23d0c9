// Turns `Authorization: Bearer <jwt>` into the caller for every route that uses this plugin.
// It runs in `derive`, which Elysia runs before body/query validation: a request without a valid
// token gets its 401 whatever its body (a `resolve` would run after validation, answering 400).
// Route matching and body parsing come even before `derive`; for those failures the root error
// handler calls `authenticate` itself (see createApp), so 401 still comes first.
import { Elysia } from "elysia";
import type { UserRegistry } from "./users.ts";
import { AuthError, type TokenVerifier } from "./verify.ts";

export interface AuthenticatedUser {
  id: string;
}

export function authentication(verify: TokenVerifier, registerUser: UserRegistry) {
  return new Elysia({ name: "authentication" }).derive({ as: "scoped" }, async ({ headers }) => {
    const user = await authenticate(verify, registerUser, headers.authorization);
    return { user };
  });
}

export async function authenticate(
  verify: TokenVerifier,
  registerUser: UserRegistry,
  header: string | null | undefined,
): Promise<AuthenticatedUser> {
  const token = header?.match(/^Bearer\s+(.*)$/i)?.[1]?.trim();
  if (!token) throw new AuthError("Missing authentication token");
  const claims = await verify(token);
  await registerUser(claims);
  return { id: claims.sub };
}

/**
 * For the root error handler: on paths under `prefix`, the token is checked before Elysia's own
 * "no such route" or "body is not JSON", which it raises before any `derive` runs.
 */
export function authenticateUnder(prefix: string, verify: TokenVerifier, registerUser: UserRegistry) {
  return async (request: Request, path: string): Promise<void> => {
    if (path === prefix || path.startsWith(`${prefix}/`))
      await authenticate(verify, registerUser, request.headers.get("authorization"));
  };
}
