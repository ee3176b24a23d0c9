// Request bodies: JSON objects of at most 64 KiB, for every route. The body is read as a stream
// and dropped at the first byte past the limit, so an upload that announces no length (chunked)
// is refused without being buffered, with the contract's JSON 413 rather than Bun's empty one.
import { Elysia } from "elysia";
import { HttpError } from "./errors.ts";

const MAX_BODY_BYTES = 64 * 1024;

class PayloadTooLargeError extends HttpError {
  constructor() {
    // The rest of the upload is never read, so the connection cannot carry another request.
    super(413, "Request body is larger than 64 KiB", { connection: "close" });
  }
}

// JSON is UTF-8 (RFC 8259 §8.1): bytes that are not are refused, where request.text() would store
// U+FFFD in their place.
const utf8 = new TextDecoder("utf-8", { fatal: true });

async function readBounded(request: Request): Promise<string> {
  if (!request.body) return "";
  // A body with a Content-Length is that many bytes, and onRequest refused more than the limit
  // (Bun refuses a request with both Content-Length and Transfer-Encoding), so it is read whole:
  // reading it as a stream cost a fifth of an update's CPU. Only chunked uploads are streamed.
  if (request.headers.has("content-length")) return utf8.decode(await request.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new PayloadTooLargeError();
    chunks.push(chunk);
  }
  return utf8.decode(Buffer.concat(chunks, size));
}

// JSON.parse makes `"__proto__"` an own key, but any later copy by assignment (a spread into a
// class, Elysia's cleaning, a merge) turns it into the object's prototype, and the fields nested
// under it then read as if the client had sent them: {"title":"p","__proto__":{"completed":true}}
// made a completed task. Dropped at every depth while parsing, so no later step can see them.
const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);
function withoutPrototypeKeys(key: string, value: unknown): unknown {
  return PROTOTYPE_KEYS.has(key) ? undefined : value;
}

/**
 * Bodies are JSON objects whatever their Content-Type says (`curl -d` sends form encoding). One that
 * does not parse is a 400 even where the body is optional (Elysia's own parser ignores the failure
 * there), and so is an array or a scalar (Elysia's normalizer would turn it into `{}`).
 * An empty body falls through to the route's declared parser (`parse: "json"`, which is also what
 * the OpenAPI document reads the media type from): a required body then fails, an optional one is absent.
 */
async function parseJsonObject({ request }: { request: Request }): Promise<unknown> {
  const text = await readBounded(request);
  if (text === "") return undefined;
  const body: unknown = JSON.parse(text, withoutPrototypeKeys);
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new HttpError(400, "Request body must be a JSON object");
  return body;
}

export const jsonBodies = new Elysia({ name: "json-bodies" })
  .onRequest(({ request }) => {
    // An announced length past the limit is refused before a byte of the body is read.
    // Thrown, not returned: an early return skips onError and onAfterResponse, so the request log.
    if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) throw new PayloadTooLargeError();
  })
  .onParse({ as: "global" }, parseJsonObject);
