// Token verification with jose. @elysiajs/jwt's verify() answers `false` for every failure and
// takes one static key, so it can neither tell "expired" from "invalid" nor use a key set.
import { errors, jwtVerify, type JWTPayload } from "jose";
import type { AuthConfig } from "../config.ts";
import { HttpError } from "../http/errors.ts";

export interface VerifiedClaims {
  sub: string;
  email?: string;
  name?: string;
}

export type TokenVerifier = (token: string) => Promise<VerifiedClaims>;

const CLOCK_TOLERANCE_SECONDS = 60;
const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];

export class AuthError extends HttpError {
  constructor(detail: "Missing authentication token" | "Invalid token" | "Token has expired") {
    super(401, detail, { "www-authenticate": detail === "Missing authentication token" ? "Bearer" : 'Bearer error="invalid_token"' });
  }
}

export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  // Import the key once: deriving it per request costs more than the verification itself.
  const secret = config.secret ? new TextEncoder().encode(config.secret) : undefined;
  return async (token) => {
    if (!secret) throw new AuthError("Invalid token");
    try {
      const { payload } = await jwtVerify(token, secret, {
        algorithms: HMAC_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["exp", "sub"],
      });
      return claimsOf(payload);
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AuthError("Token has expired");
      throw new AuthError("Invalid token");
    }
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
