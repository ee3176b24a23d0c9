// Routes are chosen by the request's path alone (docs/api.md): the Host header, which any client
// sets as it likes, never changes which route answers. fetch() always sends a proper Host, so these
// requests are written by hand on a socket to the real listener.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { RunningProcess } from "../harness/process.ts";
import { driver, TEST_SECRET, testBinary, tokenFor } from "./helpers.ts";
import { rawHttp } from "./support/raw-http.ts";
import { startService } from "./support/service.ts";

let service: RunningProcess;
let port: number;
let token: string;

/** The status line and body of one request sent with `host` as its Host header. */
async function request(method: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const exchange = await rawHttp(
    port,
    (write) =>
      write(
        `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      ),
    5_000,
  );
  const [head = "", body = ""] = exchange.received.split("\r\n\r\n", 2);
  return { status: Number(head.split(" ")[1]), body };
}

// Hosts shorter and longer than the 4 characters ("http://" + 4 = 11) Elysia assumes by default.
const HOSTS = ["a", "ab", "abc", "abcd", "localhost", "example.test:8080", "[::1]:1"];

// A property of the HTTP listener, the same whatever the database: checked for the source (the
// PGlite pass) and for the compiled binary, each on in-memory PGlite.
describe.skipIf(driver !== "pglite" && !testBinary)("routing ignores the Host header", () => {
  beforeAll(async () => {
    service = await startService({ DATABASE_URL: "memory://", BETTER_AUTH_SECRET: TEST_SECRET });
    port = Number(new URL(service.url).port);
    token = await tokenFor("router");
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
  });

  for (const host of HOSTS) {
    test(`Host: ${host}`, async () => {
      // A path that is no route stays no route, whatever part of it the host's length would cut.
      expect(await request("GET", "/xyz/api/tasks", host)).toEqual({ status: 404, body: '{"detail":"Not found"}' });
      expect((await request("GET", "/x/api/tasks", host)).status).toBe(404);
      // A known route with the wrong method stays 405.
      expect((await request("POST", "/api/tasks/changes", host)).status).toBe(405);
      // And the routes themselves answer.
      expect(await request("GET", "/api/tasks", host)).toEqual({ status: 200, body: "[]" });
      expect((await request("GET", "/health", host)).status).toBe(200);
    });
  }
});
