// The one place HS256 tokens are minted with a shared secret, as a Better Auth frontend that signs
// its own would: for manual testing (`bun run token`), the development start-up line, the tests and
// the bench. Real tokens come from the frontend's Better Auth.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { jwt } from "@elysiajs/jwt";
import { type AuthConfig, MIN_SECRET_BYTES } from "../config.ts";
import type { VerifiedClaims } from "./verify.ts";

/** Under DATA_DIR: the secret a development start with nothing configured signs with. */
export const DEVELOPMENT_SECRET_FILE = "development-secret";

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
 * The auth settings a process uses. With nothing configured outside production, config.ts made up
 * a secret for this process; `bun run dev` and `bun run token` are two processes that must agree
 * on one, so the first to need it keeps its own under the data dir (mode 0600: only this user can
 * read it) and every later one reads it from there. Production never gets here: config.ts refuses
 * to start without a configured key.
 */
export function withDevelopmentSecret(auth: AuthConfig, dataDir: string): AuthConfig {
  if (!auth.generatedSecret || auth.secret === undefined) return auth;
  const path = join(dataDir, DEVELOPMENT_SECRET_FILE);
  mkdirSync(dataDir, { recursive: true });
  // Written whole to a file of our own, then linked into place: link() fails if another process
  // got there first, so two starting at once both end up with that one, never half a file.
  const draft = `${path}.${process.pid}.tmp`;
  const fd = openSync(draft, "w", 0o600);
  try {
    writeSync(fd, `${auth.secret}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(draft, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    rmSync(draft, { force: true });
  }
  const secret = readFileSync(path, "utf8").trim();
  if (new TextEncoder().encode(secret).length < MIN_SECRET_BYTES) {
    throw new Error(`${path} holds no usable secret (under ${MIN_SECRET_BYTES} bytes); delete it to make a new one`);
  }
  return { ...auth, secret };
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
