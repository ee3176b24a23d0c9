// A real Better Auth server (email + password, jwt() plugin) on a loopback port, the way a
// Next.js frontend runs it. In front of it sits a switch for its JWKS endpoint, so tests can
// count the fetches of the key set and take it down while Better Auth keeps signing tokens.
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt } from "better-auth/plugins";

type JwksState = "up" | "failing" | "hanging";

interface SignedUpUser {
  id: string;
  cookie: string;
}

type Tables = Record<string, Record<string, unknown>[]>;
type KeyAlg = "EdDSA" | "ES256" | "RS256" | "PS256";

function createAuth(url: string, tables: Tables, alg: KeyAlg | undefined) {
  return betterAuth({
    baseURL: url,
    secret: "better-auth-test-secret-0123456789abcdef",
    database: memoryAdapter(tables),
    emailAndPassword: { enabled: true },
    plugins: [jwt(alg ? { jwks: { keyPairConfig: { alg } } } : {})],
    logger: { disabled: true },
  });
}

export function startAuthServer(options: { alg?: KeyAlg } = {}) {
  const tables: Tables = { user: [], session: [], account: [], verification: [], jwks: [] };
  let jwksState: JwksState = "up";
  let jwksFetches = 0;
  const hanging = Promise.withResolvers<Response>();
  let auth: ReturnType<typeof createAuth> | undefined;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request): Response | Promise<Response> {
      if (new URL(request.url).pathname === "/api/auth/jwks") {
        jwksFetches++;
        if (jwksState === "failing") return new Response("upstream down", { status: 502 });
        if (jwksState === "hanging") return hanging.promise;
      }
      return auth!.handler(request);
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
  auth = createAuth(url, tables, options.alg);

  async function call(path: string, init: RequestInit & { cookie?: string } = {}) {
    const headers = new Headers(init.headers);
    headers.set("origin", url);
    if (init.cookie) headers.set("cookie", init.cookie);
    if (init.body) headers.set("content-type", "application/json");
    const response = await fetch(`${url}/api/auth${path}`, { ...init, headers });
    if (!response.ok) throw new Error(`Better Auth ${path}: ${response.status} ${await response.text()}`);
    return response;
  }

  return {
    url,
    jwksUrl: `${url}/api/auth/jwks`,
    /** How many times the JWKS endpoint was asked for the key set. */
    get jwksFetches() {
      return jwksFetches;
    },
    setJwks(state: JwksState) {
      jwksState = state;
    },
    async signUp(email: string, name: string): Promise<SignedUpUser> {
      const response = await call("/sign-up/email", {
        method: "POST",
        body: JSON.stringify({ email, name, password: "correct horse battery" }),
      });
      const cookie = response.headers
        .getSetCookie()
        .map((c) => c.split(";")[0])
        .join("; ");
      const { user } = (await response.json()) as { user: { id: string } };
      return { id: user.id, cookie };
    },
    /** What a frontend gets from GET /api/auth/token: a jwt() plugin token for the session's user. */
    async token(user: SignedUpUser): Promise<string> {
      const { token } = (await (await call("/token", { cookie: user.cookie })).json()) as { token: string };
      return token;
    },
    /** A token with these exact claims, signed by Better Auth with its current key (iss, aud, exp default as usual). */
    async sign(payload: Record<string, unknown>): Promise<string> {
      return (await auth!.api.signJWT({ body: { payload } })).token;
    },
    async updateName(user: SignedUpUser, name: string) {
      await call("/update-user", { method: "POST", cookie: user.cookie, body: JSON.stringify({ name }) });
    },
    /**
     * Rotation as the jwt() plugin does it when `rotationInterval` elapses: the current key
     * expires, the next token is signed with a new key, and the old one stays published.
     */
    rotateKeys() {
      for (const key of tables.jwks!) key.expiresAt = new Date(Date.now() - 1000);
    },
    /** A key set request waiting on the hanging endpoint is let go, so the server can stop. */
    async stop() {
      hanging.resolve(new Response("stopped", { status: 503 }));
      await server.stop(true);
    },
  };
}

export type AuthServer = ReturnType<typeof startAuthServer>;
