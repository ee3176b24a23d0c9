// HMAC tokens are remembered once verified (src/auth/verify.ts). What must not change because of
// it: a remembered token still expires on time, and only its exact text is remembered, so a token
// altered in any byte is checked again and refused.
import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { driver, send, testBinary, tokenFor, useTestApp } from "./helpers.ts";

const ctx = useTestApp();
afterEach(() => setSystemTime());

const list = (token: string) => send(ctx.app, { path: "/api/tasks", token });

describe(`remembered tokens (${driver})`, () => {
  // setSystemTime moves this process's clock only, not a compiled binary's.
  test.skipIf(Boolean(testBinary))(
    "a token that verified is refused as expired once its exp (plus 60 s of skew) has passed",
    async () => {
      const start = Date.now();
      const exp = Math.floor(start / 1000) + 30;
      const token = await tokenFor("rita", { exp });
      expect((await list(token)).status).toBe(200);
      expect((await list(token)).status).toBe(200);

      setSystemTime(new Date((exp + 59) * 1000));
      expect((await list(token)).status).toBe(200);
      setSystemTime(new Date((exp + 60) * 1000));
      const expired = await list(token);
      expect(expired.status).toBe(401);
      expect(expired.body).toEqual({ detail: "Token has expired" });
    },
  );

  test("after a token verified, the same token with any part altered is refused", async () => {
    const token = await tokenFor("rita");
    expect((await list(token)).status).toBe(200);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const otherPayload = Buffer.from(JSON.stringify({ ...claims, sub: "mallory" })).toString("base64url");
    const flipped = (text: string) => text.slice(0, -2) + (text.at(-2) === "A" ? "B" : "A") + text.at(-1);
    for (const altered of [
      `${header}.${otherPayload}.${signature}`,
      `${header}.${payload}.${flipped(signature)}`,
      `${token}x`,
    ]) {
      const answer = await list(altered);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ detail: "Invalid token" });
    }
    expect((await list(token)).status).toBe(200);
  });
});
