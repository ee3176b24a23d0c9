// What the real listener (`bun src/index.ts`, Bun.serve underneath) does with uploads that are too
// big, headers that are too big and clients that stall: things app.handle() never sees.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { RunningProcess } from "../harness/process.ts";
import { driver, TEST_SECRET, testBinary, tokenFor } from "./helpers.ts";
import { type RawExchange, rawHttp } from "./support/raw-http.ts";
import { startService } from "./support/service.ts";

const MiB = 1024 * 1024;
const LIMIT = 64 * 1024;

let service: RunningProcess;
let port: number;
let token: string;
let stalled: Promise<RawExchange>;

// These are properties of the HTTP listener, the same whatever the database: checked once for the
// source (the PGlite pass) and once for the compiled binary, each on in-memory PGlite.
describe.skipIf(driver !== "pglite" && !testBinary)("HTTP listener limits", () => {
  beforeAll(async () => {
    service = await startService({ DATABASE_URL: "memory://", BETTER_AUTH_SECRET: TEST_SECRET });
    port = Number(new URL(service.url).port);
    token = await tokenFor("uploader");
    // A client that sends half a request line's headers and then nothing: it must not hold the
    // connection forever. Started first, checked last, so the other tests run meanwhile.
    stalled = rawHttp(port, (write) => write("GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: "), 30_000);
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
  });

  test("a 10 MB upload gets 413 and a closed connection while only 64 KiB of it were sent", async () => {
    // The answer comes although the body never completes: the service did not wait to read it.
    const exchange = await rawHttp(
      port,
      (write) => {
        write(
          `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${10 * MiB}\r\n\r\n`,
        );
        write(new Uint8Array(LIMIT).fill(0x20));
      },
      10_000,
    );
    expect(exchange.received).toStartWith("HTTP/1.1 413 ");
    expect(exchange.received).toEndWith('\r\n\r\n{"detail":"Request body is larger than 64 KiB"}');
    expect(exchange.closed).toBe(true);
  });

  test("a chunked upload that grows past 64 KiB gets 413", async () => {
    const exchange = await rawHttp(
      port,
      (write) => {
        write(
          `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
        );
        const chunk = new Uint8Array(16 * 1024).fill(0x20);
        for (let i = 0; i < 6; i++) {
          write(`${chunk.byteLength.toString(16)}\r\n`);
          write(chunk);
          write("\r\n");
        }
      },
      10_000,
    );
    expect(exchange.received).toStartWith("HTTP/1.1 413 ");
    expect(exchange.received).toEndWith('\r\n\r\n{"detail":"Request body is larger than 64 KiB"}');
    expect(exchange.closed).toBe(true);
  });

  test("a body of exactly 64 KiB is read and judged; one byte more is 413", async () => {
    const body = (size: number) => `{"title":"${"x".repeat(size - 12)}"}`;
    expect(body(LIMIT).length).toBe(LIMIT);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const atLimit = await fetch(`${service.url}/api/tasks`, { method: "POST", headers, body: body(LIMIT) });
    expect(atLimit.status).toBe(400); // read whole: the title is too long
    expect(((await atLimit.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe("title");
    const over = await fetch(`${service.url}/api/tasks`, { method: "POST", headers, body: body(LIMIT + 1) });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({ detail: "Request body is larger than 64 KiB" });
  });

  test("a 64 KiB header gets 431 and the service keeps serving", async () => {
    const exchange = await rawHttp(
      port,
      (write) => write(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(LIMIT)}\r\n\r\n`),
      10_000,
    );
    expect(exchange.received).toStartWith("HTTP/1.1 431 ");
    const res = await fetch(`${service.url}/health`);
    expect(res.status).toBe(200);
  });

  test("a client that stops mid-request is disconnected by the idle timeout (10 s)", async () => {
    const exchange = await stalled;
    expect(exchange.closed).toBe(true);
    expect(exchange.received).toBe(""); // nothing was answered to half a request
    expect(exchange.ms).toBeLessThan(20_000);
    console.log(`stalled client disconnected after ${(exchange.ms / 1000).toFixed(1)} s`);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
  }, 30_000);
});
