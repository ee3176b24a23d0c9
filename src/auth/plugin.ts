// Turns `Authorization: Bearer <jwt>` into the caller for every path under a prefix, before
// anything else looks at the request. Elysia matches the route and parses the body before any
// `derive` runs, so a check there would let an unknown path answer 404 and a bad body 400 to a
// caller without a token. The check runs in onRequest instead, the one hook Elysia runs before
// both: a request without a valid token gets its 401 whatever its path, method or body. The user
// it verified is kept for the routes' `derive`, so a request is verified once.
import { Elysia } from "elysia";
import type { UserRegistry } from "./users.ts";
import { AuthError, type TokenVerifier } from "./verify.ts";

/** Who owns what a request writes; email and name for a user row made again (see users.ts). */
export interface UserIdentity {
  id: string;
  email: string | null;
  name: string | null;
}

/** The caller, as its verified token says. */
export interface AuthenticatedUser extends UserIdentity {
  /** When the token expires, in ms since the epoch: what ends a live-events stream. */
  expiresAt: number;
}

interface AuthenticationOptions {
  /** Every path under it needs a token, whether or not a route matches it. */
  prefix: string;
  verify: TokenVerifier;
  registerUser: UserRegistry;
}

/**
 * Register after the plugins whose onRequest must answer first (the request id, the body size
 * limit, CORS preflights), and use it in every module under `prefix` that reads `user`.
 */
export function authentication({ prefix, verify, registerUser }: AuthenticationOptions) {
  const verified = new WeakMap<Request, AuthenticatedUser>();
  const authenticate = async (request: Request): Promise<AuthenticatedUser> => {
    const token = request.headers
      .get("authorization")
      ?.match(/^Bearer\s+(.*)$/i)?.[1]
      ?.trim();
    if (!token) throw new AuthError("Missing authentication token");
    const claims = await verify(token);
    await registerUser(claims);
    const user = {
      id: claims.sub,
      email: claims.email ?? null,
      name: claims.name ?? null,
      expiresAt: claims.exp * 1000,
    };
    verified.set(request, user);
    return user;
  };
  return new Elysia({ name: "authentication" })
    .onRequest(async ({ request }) => {
      const path = pathOf(request.url);
      if (path === prefix || path.startsWith(`${prefix}/`)) await authenticate(request);
    })
    .derive({ as: "scoped" }, async ({ request }) => {
      // A route under `prefix` spelt so that the path test above missed it (Elysia's router may
      // match what a plain prefix test does not) is still authenticated here.
      const user = verified.get(request) ?? (await authenticate(request));
      return { user };
    });
}

/** The path as sent, as Elysia routes on it: not decoded, not normalized, without the query. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const query = url.indexOf("?", start);
  return url.slice(start, query === -1 ? undefined : query);
}
