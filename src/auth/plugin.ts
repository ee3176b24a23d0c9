// Turns `Authorization: Bearer <jwt>` into the caller for every route that uses this plugin.
// It runs in `derive`, which Elysia runs before body/query validation: a request without a valid
// token gets its 401 whatever its body (a `resolve` would run after validation, answering 400).
import { Elysia } from "elysia";
import { AuthError, type TokenVerifier } from "./verify.ts";
import type { UserRegistry } from "./users.ts";

export interface AuthenticatedUser {
  id: string;
}

export function authentication(verify: TokenVerifier, registerUser: UserRegistry) {
  return new Elysia({ name: "authentication" }).derive({ as: "scoped" }, async ({ headers }) => {
    const user = await authenticate(verify, registerUser, headers.authorization);
    return { user };
  });
}

export async function authenticate(verify: TokenVerifier, registerUser: UserRegistry, header: string | undefined): Promise<AuthenticatedUser> {
  const match = header?.match(/^Bearer +(\S+) *$/i);
  if (!match?.[1]) throw new AuthError("Missing authentication token");
  const claims = await verify(match[1]);
  await registerUser(claims);
  return { id: claims.sub };
}
