// The Better Auth server, run by this Next.js app at /api/auth/*. Its jwt() plugin signs the
// EdDSA tokens the API accepts and publishes their public keys at /api/auth/jwks, where the API
// (BETTER_AUTH_URL = this app's URL) fetches them.
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt } from "better-auth/plugins";

function createAuth() {
  return betterAuth({
    baseURL: process.env.BETTER_AUTH_URL,
    secret: process.env.BETTER_AUTH_SECRET,
    // Users, sessions and signing keys live in this process's memory, so a newcomer installs
    // nothing, and all of them are gone when it stops. The README shows the line for a real database.
    database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
    emailAndPassword: { enabled: true },
    plugins: [jwt()],
  });
}

let auth: ReturnType<typeof createAuth> | undefined;

/**
 * Made on the first request rather than at import: `next build` imports the route too, where
 * BETTER_AUTH_SECRET is rightly absent and Better Auth would refuse to start.
 */
export function getAuth() {
  auth ??= createAuth();
  return auth;
}
