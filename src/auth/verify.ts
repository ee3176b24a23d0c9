// Token verification with jose. @elysiajs/jwt's verify() answers `false` for every failure and
// takes one static key, so it can neither tell "expired" from "invalid" nor use a key set.
//
// Two modes, picked by the token header's `alg` and each pinned to its own algorithms, so a
// token can never choose how it is checked: HMAC tokens only against BETTER_AUTH_SECRET (an HMAC
// "signed" with a public key is just a bad signature), asymmetric tokens only against the key set.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
} from "jose";
import type { AuthConfig, KeySetConfig } from "../config.ts";
import { HttpError } from "../http/errors.ts";

export interface VerifiedClaims {
  sub: string;
  email?: string;
  name?: string;
}

export type TokenVerifier = (token: string) => Promise<VerifiedClaims>;

const CLOCK_TOLERANCE_SECONDS = 60;
const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];
const KEY_SET_ALGORITHMS = ["EdDSA", "ES256", "RS256", "PS256"];
/** Verified HMAC tokens remembered, about 10,000 active clients' worth (a few MB). */
const MAX_VERIFIED_TOKENS = 10_000;
/** Better Auth's tokens are under 1 KB; longer ones are refused before any decoding work. */
const MAX_TOKEN_LENGTH = 8 * 1024;
/** The contract answers 503 within 5 s when the key set cannot be fetched; this leaves a margin. */
const JWKS_TIMEOUT_MS = 3_000;
/**
 * Least time between two fetches of the key set caused by an unknown `kid`, so made-up kids cannot
 * make us hammer the auth server. Short, because a token signed with a key rotated in right after
 * a fetch is refused until it passes: 12 fetches a minute at most is nothing for the auth server.
 */
const JWKS_COOLDOWN_MS = 5_000;

export class AuthError extends HttpError {
  constructor(detail: "Missing authentication token" | "Invalid token" | "Token has expired") {
    super(401, detail, {
      "www-authenticate": detail === "Missing authentication token" ? "Bearer" : 'Bearer error="invalid_token"',
    });
  }
}

/** The key set could not be fetched and the token's key is not cached: the token may be good. */
export class VerificationUnavailableError extends HttpError {
  constructor(cause: unknown) {
    super(503, "Token verification unavailable");
    this.cause = cause;
  }
}

export interface VerifierOptions {
  jwksCooldownMs?: number;
}

interface Mode {
  key: Uint8Array | JWTVerifyGetKey;
  options: JWTVerifyOptions;
}

export function createTokenVerifier(
  config: AuthConfig,
  { jwksCooldownMs = JWKS_COOLDOWN_MS }: VerifierOptions = {},
): TokenVerifier {
  const hmac = config.secret === undefined ? undefined : hmacMode(config.secret);
  const keySet = config.keySet && keySetMode(config.keySet, jwksCooldownMs);
  // A client sends the same token with every request until it expires (15 minutes for Better
  // Auth's). Verifying it again cost ~40 µs a request in bench/'s profile (jose, WebCrypto, and
  // jose importing the raw secret each time), about a quarter of a GET. An HMAC token that
  // verified keeps verifying while the process runs (the secret cannot change), except for its
  // expiry, which is checked on every use; so it is remembered by its exact text. Only verified
  // tokens get in, and the oldest leave first. Key-set tokens are not remembered: a key removed
  // from the set must stop verifying.
  const verified = new Map<string, { claims: VerifiedClaims; exp: number }>();
  return async (token) => {
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError("Invalid token");
    const known = verified.get(token);
    // jose's own expiry rule, so a remembered token expires exactly when jose would say so.
    if (known && known.exp > Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_SECONDS) return known.claims;
    verified.delete(token);
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new AuthError("Invalid token");
    }
    const mode =
      typeof alg !== "string"
        ? undefined
        : HMAC_ALGORITHMS.includes(alg)
          ? hmac
          : KEY_SET_ALGORITHMS.includes(alg)
            ? keySet
            : undefined;
    if (!mode) throw new AuthError("Invalid token");
    try {
      const { payload } = await jwtVerify(token, mode.key, mode.options);
      const claims = claimsOf(payload);
      if (mode === hmac) {
        if (verified.size >= MAX_VERIFIED_TOKENS) verified.delete(verified.keys().next().value!);
        verified.set(token, { claims, exp: payload.exp! });
      }
      return claims;
    } catch (error) {
      if (error instanceof HttpError) throw error;
      if (error instanceof errors.JWTExpired) throw new AuthError("Token has expired");
      throw new AuthError("Invalid token");
    }
  };
}

const commonOptions = {
  clockTolerance: CLOCK_TOLERANCE_SECONDS,
  requiredClaims: ["exp", "sub"],
} satisfies JWTVerifyOptions;

function hmacMode(secret: string): Mode {
  // Raw bytes, one key for all three hashes. Importing a CryptoKey per hash once instead was
  // measured: jose's per-call import costs ~2 µs of a ~30-50 µs HS256 verify, so it buys nothing.
  return { key: new TextEncoder().encode(secret), options: { ...commonOptions, algorithms: HMAC_ALGORITHMS } };
}

function keySetMode(config: KeySetConfig, cooldownMs: number): Mode {
  const remote = createRemoteJWKSet(new URL(config.jwksUrl), {
    timeoutDuration: JWKS_TIMEOUT_MS,
    cooldownDuration: cooldownMs,
    // Keys once fetched never expire here: a refetch happens only for an unknown kid (which is how
    // rotation arrives, and it replaces the whole set), so a down auth server never takes away keys
    // that already verify. jose's default would refetch every 10 minutes and fail every request
    // while the auth server is down.
    cacheMaxAge: Number.POSITIVE_INFINITY,
  });
  return {
    options: { ...commonOptions, algorithms: KEY_SET_ALGORITHMS, issuer: config.issuer, audience: config.audience },
    key: async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        // These say the token names no usable key; everything else is the fetch failing.
        if (
          error instanceof errors.JWKSNoMatchingKey ||
          error instanceof errors.JWKSMultipleMatchingKeys ||
          error instanceof errors.JOSENotSupported
        ) {
          throw error;
        }
        throw new VerificationUnavailableError(error);
      }
    },
  };
}

function claimsOf(payload: JWTPayload): VerifiedClaims {
  if (typeof payload.sub !== "string" || payload.sub === "") throw new AuthError("Invalid token");
  return {
    sub: payload.sub,
    email: typeof payload.email === "string" ? payload.email : undefined,
    name: typeof payload.name === "string" ? payload.name : undefined,
  };
}
