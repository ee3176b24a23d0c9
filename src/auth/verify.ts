// Token verification with jose. @elysiajs/jwt's verify() answers `false` for every failure and
// takes one static key, so it can neither tell "expired" from "invalid" nor use a key set.
//
// Two modes, picked by the token header's `alg` and each pinned to its own algorithms, so a
// token can never choose how it is checked: HMAC tokens only against BETTER_AUTH_SECRET (an HMAC
// "signed" with a public key is just a bad signature), asymmetric tokens only against the key set.
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
} from "jose";
import type { AuthConfig, KeySetConfig } from "../config.ts";
import { HttpError } from "../http/errors.ts";
import { isClaimText } from "../http/text.ts";

export interface VerifiedClaims {
  sub: string;
  email?: string;
  name?: string;
  /** Seconds since the epoch: when the token stops being accepted (give or take the clock tolerance). */
  exp: number;
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
 * Least time between two fetches of the key set, failed ones included, so made-up kids cannot make
 * us hammer the auth server, least of all while it is failing. Short, because a token signed with
 * a key rotated in right after a fetch is refused until it passes: 12 fetches a minute at most is
 * nothing for the auth server.
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
  // Auth's). Verifying it again was about a quarter of a GET's CPU in the bench's profile (jose,
  // WebCrypto, and jose importing the raw secret each time: bench/notes/2026-11-21.md). An HMAC token that
  // verified keeps verifying while the process runs (the secret cannot change), except for its
  // expiry, which is checked on every use; so it is remembered by its exact text. Only verified
  // tokens get in, and the oldest leave first. Key-set tokens are not remembered: a key removed
  // from the set must stop verifying.
  const verified = new Map<string, VerifiedClaims>();
  return async (token) => {
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError("Invalid token");
    const known = verified.get(token);
    // jose's own expiry rule, so a remembered token expires exactly when jose would say so.
    if (known && known.exp > Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_SECONDS) return known;
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
    if (!mode || !hasUtf8Payload(token)) throw new AuthError("Invalid token");
    try {
      const { payload } = await jwtVerify(token, mode.key, mode.options);
      const claims = claimsOf(payload);
      if (mode === hmac) {
        if (verified.size >= MAX_VERIFIED_TOKENS) verified.delete(verified.keys().next().value!);
        verified.set(token, claims);
      }
      return claims;
    } catch (error) {
      if (error instanceof HttpError) throw error;
      // exp: -1e400 parses as -Infinity, which jose calls expired; it is no time at all.
      if (error instanceof errors.JWTExpired)
        throw new AuthError(Number.isFinite(error.payload.exp) ? "Token has expired" : "Invalid token");
      throw new AuthError("Invalid token");
    }
  };
}

const commonOptions = {
  clockTolerance: CLOCK_TOLERANCE_SECONDS,
  requiredClaims: ["exp", "sub"],
} satisfies JWTVerifyOptions;

function hmacMode(secret: string): Mode {
  // Raw bytes, one key for all three hashes: verified tokens are remembered (above), so what jose's
  // per-call import costs is paid once per token, and a CryptoKey per hash would buy nothing.
  return { key: new TextEncoder().encode(secret), options: { ...commonOptions, algorithms: HMAC_ALGORITHMS } };
}

function keySetMode(config: KeySetConfig, cooldownMs: number): Mode {
  return {
    options: { ...commonOptions, algorithms: KEY_SET_ALGORITHMS, issuer: config.issuer, audience: config.audience },
    key: remoteKeySet(new URL(config.jwksUrl), cooldownMs),
  };
}

/**
 * The key set, fetched on first use and again for a `kid` it lacks, at most once per `cooldownMs`
 * whether that fetch succeeds or fails. jose's createRemoteJWKSet starts its cooldown only after a
 * fetch that succeeded: while the auth server answered 502 or HTML, every token with a made-up kid
 * caused a fetch (20 tokens, 20 fetches in 10 ms).
 * Keys once fetched are kept until a fetch brings a new set (which is how rotation arrives), so a
 * down auth server never takes away keys that already verify. Within a cooldown, an unknown kid
 * is an invalid token after a fetch that worked, and 503 after one that failed.
 */
function remoteKeySet(url: URL, cooldownMs: number): JWTVerifyGetKey {
  let keys: JWTVerifyGetKey | undefined;
  let lastFetchAt = Number.NEGATIVE_INFINITY;
  let lastFailure: { cause: unknown } | undefined;
  let pending: Promise<void> | undefined;
  const refetch = () => {
    lastFetchAt = Date.now();
    pending = fetchKeySet(url)
      .then(
        (fetched) => {
          keys = fetched;
          lastFailure = undefined;
        },
        (error: unknown) => {
          lastFailure = { cause: error };
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  return async (header, token) => {
    if (keys) {
      try {
        return await keys(header, token);
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      }
    }
    if (pending !== undefined) await pending;
    else if (Date.now() - lastFetchAt >= cooldownMs) await refetch();
    if (lastFailure) throw new VerificationUnavailableError(lastFailure.cause);
    if (!keys) throw new errors.JWKSNoMatchingKey();
    return keys(header, token);
  };
}

async function fetchKeySet(url: URL): Promise<JWTVerifyGetKey> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
    redirect: "manual",
    headers: { accept: "application/json, application/jwk-set+json" },
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`the key set answered ${response.status}`);
  }
  // HTML (a proxy's error page) fails to parse; JSON that is no key set fails in createLocalJWKSet.
  return createLocalJWKSet((await response.json()) as JSONWebKeySet);
}

// jose decodes the payload leniently, turning bytes that are not UTF-8 into U+FFFD: two tokens
// differing only there would name the same `sub`.
const utf8 = new TextDecoder("utf-8", { fatal: true });
function hasUtf8Payload(token: string): boolean {
  try {
    utf8.decode(Buffer.from(token.split(".")[1] ?? "", "base64url"));
    return true;
  } catch {
    return false;
  }
}

/**
 * jose checks that exp, nbf and iat are numbers, but 1e400 parses as Infinity (a token that never
 * expires), and it leaves an iat in the future alone. `sub` must be claim text (src/http/text.ts):
 * an unpaired surrogate would be stored as U+FFFD, merging two users, and 3,000 characters fail the
 * primary key's index. An `email` or `name` that is not claim text is left out, not fatal.
 */
function claimsOf(payload: JWTPayload): VerifiedClaims {
  const { exp, nbf, iat, sub } = payload;
  const now = Math.floor(Date.now() / 1000);
  if (
    !Number.isFinite(exp) ||
    (nbf !== undefined && !Number.isFinite(nbf)) ||
    (iat !== undefined && !(Number.isFinite(iat) && iat <= now + CLOCK_TOLERANCE_SECONDS)) ||
    !isClaimText(sub)
  )
    throw new AuthError("Invalid token");
  return {
    sub,
    email: isClaimText(payload.email) ? payload.email : undefined,
    name: isClaimText(payload.name) ? payload.name : undefined,
    exp: exp!,
  };
}
