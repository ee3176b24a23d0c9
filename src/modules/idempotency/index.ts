// Idempotency-Key (docs/api.md, "Idempotency-Key (safe retries)"): a client that lost the answer
// to a write retries it with the same key and gets the first answer again instead of a second write.
// Used in the /api group before the routes, it applies to every write there (POST, PUT, PATCH, DELETE).
//
// A request with a key goes: its format is checked right after authentication (400), before the
// body's validation or the 403 of another user's path; after validation the key is claimed in the
// database (src/modules/idempotency/service.ts), or the kept answer is replayed, or 409 / 422; the
// route runs; its answer is kept if 2xx, else the claim is released, before the response leaves.
//
// A process killed between claiming a key and keeping the answer leaves the row in flight: retries
// get 409 until its 30 s lease ends, then the next one is carried out afresh. If the write itself had
// committed, that retry writes again: the write and its kept answer are not one transaction.
import { Elysia, ElysiaCustomStatusResponse, StatusMap } from "elysia";
import type { authentication } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { HttpError } from "../../http/errors.ts";
import type { Logger } from "../../http/log.ts";
import { requestId } from "../../http/request-log.ts";
import { metrics } from "../../observability/metrics.ts";
import { IDEMPOTENCY_KEY_MAX } from "../../rules.ts";
import { claimKey, type KeptAnswer, keepAnswer, releaseKey } from "./service.ts";

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
    metrics.idempotencyConflict("in_progress");
  }
}

class KeyReusedError extends HttpError {
  constructor() {
    super(422, "Idempotency-Key was already used for a different request");
    metrics.idempotencyConflict("different_request");
  }
}

interface KeyedRequest {
  key: string;
  fingerprint: string;
  /** Set while this request holds the key; cleared once its answer is kept or the key released. */
  claim?: string;
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
  metrics.idempotencyReplay();
  const headers = new Headers({ "idempotent-replayed": "true" });
  // What Elysia sends with a JSON body; test/idempotency.test.ts compares a replay with the first answer.
  if (answer.body !== "") headers.set("content-type", "application/json;charset=utf-8");
  if (answer.location !== null) headers.set("location", answer.location);
  if (answer.etag !== null) headers.set("etag", answer.etag);
  return new Response(answer.body === "" ? null : answer.body, { status: answer.status, headers });
}

export function idempotency(auth: ReturnType<typeof authentication>, db: Database, log: Logger) {
  return (
    new Elysia({ name: "idempotency" })
      .use(auth)
      .derive({ as: "scoped" }, ({ request, path, body }): { idempotency?: KeyedRequest } => {
        const key = request.headers.get("idempotency-key");
        if (key === null || !WRITES.has(request.method)) return {};
        if (!KEY_FORMAT.test(key)) throw new InvalidKeyError();
        return { idempotency: { key, fingerprint: fingerprintOf(request.method, path, body) } };
      })
      .onBeforeHandle({ as: "scoped" }, async ({ idempotency, user }) => {
        if (!idempotency) return;
        // Elysia types earlier derives as optional here; auth's ran first and throws without a user.
        const claimed = await claimKey(db, user!, idempotency.key, idempotency.fingerprint);
        switch (claimed.outcome) {
          case "claimed":
            idempotency.claim = claimed.claim;
            return;
          case "answered":
            return replay(claimed.answer);
          case "in progress":
            throw new KeyInProgressError();
          case "other request":
            throw new KeyReusedError();
        }
      })
      // mapResponse, not afterHandle: Elysia also runs it on the root onError's answer, so a claim
      // is released when the route throws (404, 503), and it sees the headers every afterHandle set.
      // A route's own mapResponse runs after this one: headers to keep (ETag) are set before it.
      .mapResponse({ as: "scoped" }, async ({ idempotency, user, responseValue, set, request }) => {
        const claim = idempotency?.claim;
        if (!claim) return;
        idempotency.claim = undefined;
        const answer = await successOf(responseValue, set.headers, set.status);
        try {
          if (!answer) await releaseKey(db, user!.id, idempotency.key, claim);
          else if (!(await keepAnswer(db, user!.id, idempotency.key, claim, answer)))
            log.warn("idempotency key's lease ran out before its answer was kept", { request_id: requestId(request) });
        } catch (cause) {
          // The route's answer still goes out; the key stays in flight until its lease ends.
          log.error("idempotency key not settled", { request_id: requestId(request), cause });
        }
      })
  );
}
