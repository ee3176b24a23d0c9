// The Better Auth server, run by this Next.js app at /api/auth/*. Its jwt() plugin signs the
// EdDSA tokens the API accepts and publishes their public keys at /api/auth/jwks, where the API
// (BETTER_AUTH_URL = this app's URL) fetches them.
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt } from "better-auth/plugins";
import { headers } from "next/headers";

function createAuth() {
  return betterAuth({
    baseURL: process.env.BETTER_AUTH_URL,
    secret: process.env.BETTER_AUTH_SECRET,
    // Users, sessions and signing keys live in this process's memory, so a newcomer installs
    // nothing, and all of them are gone when it stops. The README shows the line for a real database.
    database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
    emailAndPassword: { enabled: true },
    plugins: [jwt()],
    // Better Auth allows 3 sign-ins or sign-ups per 10 s per client address, and `next start`
    // passes it no address, so everyone shares one bucket. The browser tests sign in dozens of
    // times a minute and turn it off; a deployment behind a proxy should instead name the proxy's
    // client-address header (advanced.ipAddress.ipAddressHeaders).
    rateLimit: { enabled: process.env.AUTH_RATE_LIMIT !== "off" },
  });
}

// On globalThis, not in a module variable: Next bundles the route handler and each page
// separately, and the memory adapter's users must be the same ones for all of them.
const holder = globalThis as { exampleAuth?: ReturnType<typeof createAuth> };

/**
 * Made on the first request rather than at import: `next build` imports the route too, where
 * BETTER_AUTH_SECRET is rightly absent and Better Auth would refuse to start.
 */
export function getAuth() {
  holder.exampleAuth ??= createAuth();
  return holder.exampleAuth;
}

/**
 * The session of the request being rendered, read on the server from its cookie. Pages decide
 * where a person belongs here, before anything is sent: a check in the browser would read Better
 * Auth's client-side session store, which still holds "signed out" for a moment after signing in.
 */
export async function currentUser() {
  // headers() first: during `next build` it stops the render before getAuth() would run unconfigured.
  const requestHeaders = await headers();
  const session = await getAuth().api.getSession({ headers: requestHeaders });
  if (!session) return null;
  const { id, email, name } = session.user;
  return { id, email, name };
}

export type User = NonNullable<Awaited<ReturnType<typeof currentUser>>>;
