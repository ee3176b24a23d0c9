// Idempotency-Key (docs/api.md, "Idempotency-Key (safe retries)"): a client that lost the answer
// to a write retries it with the same key and gets the first answer again instead of a second write.
// Used in the /api group before the routes, it applies to every write there (POST, PUT, PATCH, DELETE).
//
// A request with a key goes: its format is checked right after authentication (400), before the
// body's validation or the 403 of another user's path; after validation a transaction is opened for
// it and the key claimed there (src/modules/idempotency/service.ts), or the kept answer is replayed,
// or 409 / 422; the route writes in that transaction (src/db/held-transaction.ts); its answer, if
// 2xx, is kept in the same transaction, which then commits, else the transaction is rolled back,
// before the response leaves. The write and its kept answer commit together or not at all.
import { Elysia, ElysiaCustomStatusResponse, StatusMap } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { type HeldTransaction, holdFor, holdTransaction } from "../../db/held-transaction.ts";
import { HttpError } from "../../http/errors.ts";
import { IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEYS_PER_USER } from "../../rules.ts";
import { claimKey, type KeptAnswer, keepAnswer } from "./service.ts";

const KEY_FORMAT = new RegExp(`^[\\x20-\\x7e]{1,${IDEMPOTENCY_KEY_MAX}}$`);
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

class InvalidKeyError extends HttpError {
  constructor() {
    super(400, `The Idempotency-Key header must be 1 to ${IDEMPOTENCY_KEY_MAX} printable ASCII characters`);
  }
}

class KeyInProgressError extends HttpError {
  constructor() {
    super(409, "A request with this Idempotency-Key is in progress");
  }
}

class TooManyKeysError extends HttpError {
  constructor(retryAfterSeconds: number) {
    super(
      429,
      `Too many Idempotency-Keys: at most ${IDEMPOTENCY_KEYS_PER_USER} answers are kept per user; retry in ${retryAfterSeconds} s`,
      { "retry-after": String(retryAfterSeconds) },
    );
  }
}

class KeyReusedError extends HttpError {
  constructor() {
    super(422, "Idempotency-Key was already used for a different request");
  }
}

interface KeyedRequest {
  key: string;
  fingerprint: string;
  /** The transaction holding the key and the route's write; cleared once it is committed or rolled back. */
  held?: HeldTransaction;
}

/**
 * What identifies "the same request": method, path and body. The body is compared as the JSON
 * value it parsed to (whitespace aside, the same text), since the raw bytes are read before this.
 */
function fingerprintOf(method: string, path: string, body: unknown): string {
  return new Bun.CryptoHasher("sha256")
    .update(`${method} ${path}\n${body === undefined ? "" : JSON.stringify(body)}`)
    .digest("hex");
}

/** The answer to keep, if the route's answer is a 2xx; `value` is what the route (or onError) answered. */
async function successOf(
  value: unknown,
  headers: Record<string, unknown>,
  setStatus: number | keyof StatusMap | undefined,
): Promise<KeptAnswer | undefined> {
  const header = (name: string) =>
    (value instanceof Response ? value.headers.get(name) : null) ?? (headers[name] as string | undefined) ?? null;
  let status: number;
  let body: string;
  if (value instanceof Response) {
    status = value.status;
    body = status >= 200 && status < 300 ? await value.clone().text() : "";
  } else {
    const custom = value instanceof ElysiaCustomStatusResponse;
    status = custom ? value.code : typeof setStatus === "number" ? setStatus : StatusMap[setStatus ?? "OK"];
    const content = custom ? value.response : value;
    body = content === undefined ? "" : JSON.stringify(content);
  }
  if (status < 200 || status >= 300) return undefined;
  return { status, body, location: header("location"), etag: header("etag") };
}

function replay(answer: KeptAnswer): Response {
  const headers = new Headers({ "idempotent-replayed": "true" });
  // What Elysia sends with a JSON body; test/idempotency.test.ts compares a replay with the first answer.
  if (answer.body !== "") headers.set("content-type", "application/json;charset=utf-8");
  if (answer.location !== null) headers.set("location", answer.location);
  if (answer.etag !== null) headers.set("etag", answer.etag);
  return new Response(answer.body === "" ? null : answer.body, { status: answer.status, headers });
}

export function idempotency(auth: ReturnType<typeof authentication>, db: Database) {
  return (
    new Elysia({ name: "idempotency" })
      .use(auth)
      .derive({ as: "scoped" }, ({ request, path, body }): { idempotency?: KeyedRequest } => {
        const key = request.headers.get("idempotency-key");
        if (key === null || !WRITES.has(request.method)) return {};
        if (!KEY_FORMAT.test(key)) throw new InvalidKeyError();
        return { idempotency: { key, fingerprint: fingerprintOf(request.method, path, body) } };
      })
      .onBeforeHandle({ as: "scoped" }, async ({ idempotency, user, request }) => {
        if (!idempotency) return;
        const held = await holdTransaction(db);
        let claimed: Awaited<ReturnType<typeof claimKey>>;
        try {
          // Elysia types earlier derives as optional here; auth's ran first and throws without a user.
          claimed = await claimKey(held.db, user!.id, idempotency.key, idempotency.fingerprint);
        } catch (error) {
          await held.rollback();
          throw error;
        }
        if (claimed.outcome === "claimed") {
          idempotency.held = held;
          holdFor(request, held.db);
          return;
        }
        await held.rollback();
        switch (claimed.outcome) {
          case "answered":
            return replay(claimed.answer);
          case "in progress":
            throw new KeyInProgressError();
          case "other request":
            throw new KeyReusedError();
        }
      })
      // mapResponse, not afterHandle: Elysia also runs it on the root onError's answer, so the
      // transaction is rolled back when the route throws (404, 412, 503), and it sees the headers
      // every afterHandle set. A route's own mapResponse runs after this one: headers to keep (ETag)
      // are set before it. What this throws goes to the root onError, whose answer comes back here
      // with nothing held.
      .mapResponse({ as: "scoped" }, async ({ idempotency, user, responseValue, set }) => {
        const held = idempotency?.held;
        if (!held) return;
        idempotency.held = undefined;
        const answer = await successOf(responseValue, set.headers, set.status);
        if (!answer) return held.rollback();
        let kept: Awaited<ReturnType<typeof keepAnswer>>;
        try {
          kept = await keepAnswer(held.db, user!.id, idempotency.key, idempotency.fingerprint, answer);
        } catch (error) {
          await held.rollback();
          throw error;
        }
        if (!kept.kept) {
          await held.rollback();
          throw new TooManyKeysError(kept.retryAfterSeconds);
        }
        // A commit that fails or misses its deadline is a 503: then either nothing was written, or
        // the write and its answer both were, and the retry gets that answer.
        await held.commit();
      })
  );
}
