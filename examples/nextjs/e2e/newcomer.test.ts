// The path every newcomer takes, as a person takes it: open the start page, then only links and
// buttons. Each step runs 10 times and every outcome is counted, so a race that bounces some of
// them back to the sign-in page shows as "7 of 10" rather than passing by luck.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import type { Page } from "playwright-core";
import { browserTest, expectTitles, landing, newPage, submitSignIn, submitSignUp } from "./browser.ts";
import { startTestServers, type TestServers } from "./servers.ts";

const TRIES = 10;
let servers: TestServers;
const run = Date.now();
const newcomer = (i: number) => ({ name: `Newcomer ${i}`, email: `newcomer-${run}-${i}@example.com` });

beforeAll(async () => {
  servers = await startTestServers();
}, 180_000);

afterAll(async () => {
  await servers?.stop();
});

/** Runs `attempt` TRIES times, each in a fresh browser context, and returns where each one ended. */
async function tally(attempt: (page: Page, i: number) => Promise<string>) {
  const outcomes: string[] = [];
  for (let i = 0; i < TRIES; i++) {
    const page = await newPage(servers.browser);
    outcomes.push(await attempt(page, i));
    await page.context().close();
  }
  return outcomes;
}

const allOnBoard = Array(TRIES).fill("board");

describe("the newcomer path, from the start page", () => {
  browserTest(
    "signing up from the start page lands on the empty board, 10 of 10",
    () => servers.browser,
    async () => {
      const outcomes = await tally(async (page, i) => {
        const where = await submitSignUp(page, servers.web.url, newcomer(i));
        if (where === "board") await expectTitles(page, []);
        return where;
      });
      expect(outcomes).toEqual(allOnBoard);
    },
    120_000,
  );

  browserTest(
    "signing in from the start page lands on the board, 10 of 10",
    () => servers.browser,
    async () => {
      // newcomer(0) signed up in the test before; this test also passes on its own.
      const first = await newPage(servers.browser);
      const user = { name: "Returning", email: `returning-${run}@example.com` };
      expect(await submitSignUp(first, servers.web.url, user)).toBe("board");
      await first.context().close();
      expect(await tally((page) => submitSignIn(page, servers.web.url, user.email))).toEqual(allOnBoard);
    },
    120_000,
  );

  browserTest(
    "signing out and in again returns to the same board, 10 of 10",
    () => servers.browser,
    async () => {
      const page = await newPage(servers.browser);
      const user = { name: "Back again", email: `again-${run}@example.com` };
      expect(await submitSignUp(page, servers.web.url, user)).toBe("board");
      const outcomes: string[] = [];
      for (let i = 0; i < TRIES; i++) {
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
        const where = await submitSignIn(page, undefined, user.email);
        outcomes.push(where);
        if (where !== "board")
          await page.goto(servers.web.url); // start over from the start page
        else await page.getByText(user.email).waitFor();
      }
      expect(outcomes).toEqual(allOnBoard);
      await page.context().close();
    },
    120_000,
  );

  browserTest(
    "a signed-in person who goes Back to the sign-in page is sent on to the board, 10 of 10",
    () => servers.browser,
    async () => {
      // Start page → sign-in → "Create an account" → board; Back then returns to the sign-in page
      // (the sign-up page was replaced by the board), shown from the router's cache.
      const outcomes = await tally(async (page, i) => {
        expect(await submitSignUp(page, servers.web.url, newcomer(100 + i))).toBe("board");
        await page.goBack();
        return landing(page);
      });
      expect(outcomes).toEqual(allOnBoard);
    },
    120_000,
  );

  browserTest(
    "a signed-in person who opens the sign-in page's address is sent on to the board",
    () => servers.browser,
    async () => {
      // The one typed address: a bookmark or an old tab is how a signed-in person opens /sign-in
      // without a link, and it is the server's redirect (not the Back path's check) that answers it.
      const page = await newPage(servers.browser);
      expect(await submitSignUp(page, servers.web.url, newcomer(200))).toBe("board");
      for (const path of ["/sign-in", "/sign-up"]) {
        await page.goto(`${servers.web.url}${path}`);
        expect(await landing(page)).toBe("board");
      }
      await page.context().close();
    },
  );
});
