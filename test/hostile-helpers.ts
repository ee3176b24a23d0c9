// What the hostile-input tests share: tokens signed over raw JSON text (claims JSON.stringify cannot
// write, such as 1e400 or a duplicate key), and the checks every error answer must pass.

import { expect } from "bun:test";
import { createHmac } from "node:crypto";
import type { Answer } from "./helpers.ts";
import { TEST_SECRET } from "./helpers.ts";

const base64url = (text: string | Buffer) => Buffer.from(text).toString("base64url");

/** An HS256 token whose payload is exactly `payloadJson`, signed with TEST_SECRET. */
export function signRawPayload(payloadJson: string | Buffer, header = '{"alg":"HS256","typ":"JWT"}'): string {
  const signingInput = `${base64url(header)}.${base64url(payloadJson)}`;
  return `${signingInput}.${createHmac("sha256", TEST_SECRET).update(signingInput).digest("base64url")}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The contract's error: JSON {detail, errors?} with a request id, and a 401 says Bearer. */
export function expectContractError(answer: Answer, where = "") {
  expect(answer.status, where).toBeGreaterThanOrEqual(400);
  expect(answer.status, where).toBeLessThan(500);
  expect(answer.headers.get("x-request-id"), where).toBeTruthy();
  expect(answer.headers.get("content-type"), where).toStartWith("application/json");
  const body = answer.body as Record<string, unknown>;
  expect(typeof body === "object" && body !== null, where).toBe(true);
  expect(
    Object.keys(body).filter((key) => key !== "detail" && key !== "errors"),
    where,
  ).toEqual([]);
  expect(typeof body.detail === "string" && body.detail.length > 0, where).toBe(true);
  if (body.errors !== undefined) {
    expect(Array.isArray(body.errors), where).toBe(true);
    for (const error of body.errors as Record<string, unknown>[]) {
      expect(Object.keys(error).sort(), where).toEqual(["field", "message"]);
      expect(typeof error.field === "string" && typeof error.message === "string", where).toBe(true);
    }
  }
  if (answer.status === 401) expect(answer.headers.get("www-authenticate"), where).toStartWith("Bearer");
  expect(answer.text, where).not.toMatch(/\n\s+at |node_modules|Something went wrong/);
}
