// The signed-in user's API token: a jwt() plugin token from GET /api/auth/token (15 minutes), kept
// until shortly before it expires so that a page of API calls costs one token request, not one each.
import { authClient } from "./auth-client.ts";

const RENEW_BEFORE_EXPIRY_MS = 60_000;

let kept: { token: string; expiresAt: number } | undefined;

function expiryOf(token: string): number {
  const payload = token.split(".")[1] ?? "";
  const { exp } = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { exp: number };
  return exp * 1000;
}

export async function apiToken(): Promise<string> {
  if (kept && kept.expiresAt - RENEW_BEFORE_EXPIRY_MS > Date.now()) return kept.token;
  const { data, error } = await authClient.token();
  if (error) throw new Error("Not signed in");
  kept = { token: data.token, expiresAt: expiryOf(data.token) };
  return data.token;
}

/** After a 401 or signing out: the next call asks Better Auth again. */
export function forgetApiToken() {
  kept = undefined;
}
