// Tokens as the frontend's Better Auth server would sign them with the shared secret, minted by
// the service's own minter (src/auth/dev-token.ts).
import { type MintedClaims, mintToken } from "../../src/auth/dev-token.ts";

export const TEST_SECRET = "test-secret-of-at-least-thirty-two-bytes!";

/** An HS256 token signed with TEST_SECRET, valid for an hour unless claims say otherwise. */
export function tokenFor(sub: string, claims: Omit<MintedClaims, "sub"> = {}, secret = TEST_SECRET): Promise<string> {
  return mintToken(secret, { sub, ...claims });
}
