// Tokens as the frontend's Better Auth server would sign them with the shared secret.
import { type JWTPayload, SignJWT } from "jose";

export const TEST_SECRET = "test-secret-of-at-least-thirty-two-bytes!";

/** An HS256 token signed with TEST_SECRET, valid for an hour unless claims say otherwise. */
export function tokenFor(sub: string, claims: JWTPayload = {}, secret = TEST_SECRET): Promise<string> {
  return new SignJWT({ sub, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? "1h")
    .sign(new TextEncoder().encode(secret));
}
