// Tokens this service can mint for itself: HS256 with the shared secret, for manual testing,
// scripts and the development start-up line. Real tokens come from the frontend's Better Auth.
import { jwt } from "@elysiajs/jwt";
import type { AuthConfig } from "../config.ts";

export interface DevTokenClaims {
  sub: string;
  email?: string;
  name?: string;
}

/** `ttl` is a jose time span such as "30m", "1h" or "7d"; a malformed one throws a TypeError. */
export async function mintToken(secret: string, claims: DevTokenClaims, ttl = "1h"): Promise<string> {
  // The plugin's signer, reached without a request: it is the one piece of @elysiajs/jwt that
  // fits here (its verify() cannot tell expired from invalid, see verify.ts).
  return jwt({ secret, alg: "HS256" }).decorator.jwt.sign({ ...claims, exp: ttl });
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
