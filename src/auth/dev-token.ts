// The one place HS256 tokens are minted with a shared secret, as a Better Auth frontend that signs
// its own would: for manual testing (`bun run token`), the development start-up line, the tests and
// the bench. Real tokens come from the frontend's Better Auth.
import { jwt } from "@elysiajs/jwt";
import type { AuthConfig } from "../config.ts";
import type { VerifiedClaims } from "./verify.ts";

/** What a minted token says: the claims the service reads, `exp` given or from `ttl`, and `nbf`. */
export type MintedClaims = Omit<VerifiedClaims, "exp"> & { exp?: number; nbf?: number };

/**
 * `ttl` is a jose time span such as "30m", "1h" or "7d" (a malformed one throws a TypeError);
 * `claims.exp`, seconds since the epoch, wins over it.
 */
export async function mintToken(secret: string, claims: MintedClaims, ttl = "1h"): Promise<string> {
  // The plugin's signer, reached without a request: it is the one piece of @elysiajs/jwt that
  // fits here (its verify() cannot tell expired from invalid, see verify.ts).
  return jwt({ secret, alg: "HS256" }).decorator.jwt.sign({ ...claims, exp: claims.exp ?? ttl });
}

/**
 * After a development start with nothing configured (config.ts made up a secret), a curl line
 * that works against this process; otherwise undefined.
 */
export async function developmentCurl(auth: AuthConfig, serverUrl: URL): Promise<string | undefined> {
  if (!auth.generatedSecret || auth.secret === undefined) return undefined;
  const url = new URL("/api/tasks", serverUrl);
  // Listening on every interface says nothing about where a client can reach it.
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = "localhost";
  const token = await mintToken(auth.secret, { sub: "dev-user" }, "24h");
  return `curl -H 'Authorization: Bearer ${token}' ${url.href}`;
}
