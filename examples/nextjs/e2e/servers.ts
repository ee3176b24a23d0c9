// What every browser test file needs: the API on embedded PGlite in a temp dir, `next start` of the
// example's production build (`bun run build` first) and Debian's chromium, on free loopback ports.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { exampleDir, freePort, type RunningProcess, startApi, startWeb } from "../scripts/stack.ts";
import { launchBrowser, outputDir } from "./browser.ts";

export interface TestServers {
  api: RunningProcess;
  web: RunningProcess;
  browser: Browser;
  /** Stops the API and starts it again on the same port and database. */
  restartApi(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestServers(): Promise<TestServers> {
  if (!existsSync(join(exampleDir, ".next/BUILD_ID"))) {
    throw new Error("No production build of the example: run `bun run build` in examples/nextjs first");
  }
  mkdirSync(outputDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "todo-e2e-"));
  const [apiPort, webPort] = [freePort(), freePort()];
  const webUrl = `http://127.0.0.1:${webPort}`;
  let apiStarts = 0;
  const logs = (name: string) => ({ file: join(dataDir, `${name}.log`) });
  const apiOptions = () =>
    ({
      port: apiPort,
      host: "127.0.0.1",
      webUrl,
      database: { dataDir: join(dataDir, "db") },
      output: logs(`api-${++apiStarts}`),
    }) as const;
  const [api, web, browser] = await Promise.all([
    startApi(apiOptions()),
    startWeb({
      port: webPort,
      host: "127.0.0.1",
      apiUrl: `http://127.0.0.1:${apiPort}`,
      mode: "start",
      output: logs("web"),
      authRateLimit: "off",
    }),
    launchBrowser(),
  ]);
  const servers: TestServers = {
    api,
    web,
    browser,
    async restartApi() {
      await servers.api.stop();
      servers.api = await startApi(apiOptions());
    },
    async stop() {
      await browser.close();
      await Promise.all([web.stop(), servers.api.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return servers;
}
