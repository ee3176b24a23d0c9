// The signed-in user's API token: a jwt() plugin token from GET /api/auth/token (15 minutes), kept
// until shortly before it expires, and asked for once when several calls need it at the same time.
import { authClient } from "./auth-client.ts";

const RENEW_BEFORE_EXPIRY_MS = 60_000;

let kept: { token: string; expiresAt: number } | undefined;
let asking: Promise<string> | undefined;

function expiryOf(token: string): number {
  const payload = token.split(".")[1] ?? "";
  const { exp } = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { exp: number };
  return exp * 1000;
}

async function askBetterAuth(): Promise<string> {
  const { data, error } = await authClient.token();
  if (error) throw new Error("Not signed in");
  kept = { token: data.token, expiresAt: expiryOf(data.token) };
  return data.token;
}

export function apiToken(): Promise<string> {
  if (kept && kept.expiresAt - RENEW_BEFORE_EXPIRY_MS > Date.now()) return Promise.resolve(kept.token);
  asking ??= askBetterAuth().finally(() => {
    asking = undefined;
  });
  return asking;
}

/** After a 401 or signing out: the next call asks Better Auth again. */
export function forgetApiToken() {
  kept = undefined;
}
