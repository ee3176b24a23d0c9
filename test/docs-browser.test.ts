// GET /docs in a real browser with no internet: headless Chromium (Debian's package; Playwright's own
// browser download is not reachable here), every request to anything but this service refused, must
// render the task routes from the service's own copy of Scalar, and break none of its CSP.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { driver, useTestApp } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);

const ctx = useTestApp();
let server: ReturnType<typeof Bun.serve> | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  // The browser needs a port; this one passes each request to the app (in-process, or the binary's).
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => ctx.app.handle(request) });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop(true);
});

describe(`/docs in headless Chromium (${driver})`, () => {
  test.skipIf(!hasChromium)(
    `renders the task routes offline, within its Content-Security-Policy${hasChromium ? "" : ` (skipped: no ${CHROMIUM}; apt-get install chromium)`}`,
    async () => {
      const origin = `http://127.0.0.1:${server!.port}`;
      const page = await browser!.newPage();
      const refused: string[] = [];
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith(`${origin}/`) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
        refused.push(url);
        return route.abort("internetdisconnected");
      });
      const problems: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text());
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));

      const response = await page.goto(`${origin}/docs`);
      expect(response?.status()).toBe(200);
      // The sidebar opens a tag's operations on a click; the tag's page lists their paths.
      await page.getByText("Tasks", { exact: true }).first().click({ timeout: 30_000 });
      for (const text of [
        "List the caller's tasks",
        "Create a task",
        "Toggle or set completion",
        "/api/tasks/{id}/complete",
      ])
        await page.getByText(text, { exact: true }).first().waitFor({ timeout: 30_000 });
      if (process.env.DOCS_SCREENSHOT) await page.screenshot({ path: process.env.DOCS_SCREENSHOT, fullPage: false });
      await page.close();
      expect(refused).toEqual([]);
      expect(problems).toEqual([]);
    },
    90_000,
  );
});
