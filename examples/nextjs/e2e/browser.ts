// The browser side of the end-to-end tests: Debian's chromium driven by playwright-core (Playwright's
// own browser download is not reachable here), and what a person does on the example's pages.

import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import type { Task } from "../lib/api.ts";
import { exampleDir } from "../scripts/stack.ts";

export const outputDir = join(exampleDir, "test-results");

export const PASSWORD = "correct horse battery";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    // Root in a container cannot use chromium's sandbox; the rest keeps it off the network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A page in a new context (its own cookies: another device), failing fast rather than at the test's timeout. */
export async function newPage(browser: Browser, viewport?: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext(viewport ? { viewport, isMobile: true, hasTouch: true } : {});
  context.setDefaultTimeout(10_000);
  return context.newPage();
}

/**
 * A test that, when it fails, leaves a screenshot of every page open in `browser()` under
 * test-results/, named after the test.
 */
export function browserTest(name: string, browser: () => Browser, fn: () => Promise<void>, timeoutMs = 30_000) {
  test(
    name,
    async () => {
      try {
        await fn();
      } catch (error) {
        mkdirSync(outputDir, { recursive: true });
        const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
        const pages = browser()
          .contexts()
          .flatMap((context) => context.pages());
        await Promise.all(
          pages.map((page, i) => page.screenshot({ path: join(outputDir, `${slug}-${i + 1}.png`), fullPage: true })),
        );
        throw error;
      }
    },
    timeoutMs,
  );
}

/**
 * Where a person lands after submitting the sign-in or sign-up form (or going Back): the board,
 * or (the bug this guards against) anywhere else, such as the sign-in page again. The board
 * counts once its list has loaded, and only if the address is still the board's then.
 */
export async function landing(page: Page): Promise<string> {
  const heading = page.getByRole("heading", { name: "Tasks" });
  const count = page.getByText(/^\d+ tasks?$/);
  try {
    await count.waitFor({ timeout: 8_000 });
  } catch {
    return `not the board: ${new URL(page.url()).pathname}`;
  }
  const path = new URL(page.url()).pathname;
  return path === "/" && (await heading.isVisible()) ? "board" : `left the board for ${path}`;
}

/**
 * Opens the start page (or, with `webUrl` undefined, stays where the page is, which must show the
 * sign-in form), follows "Create an account" and signs up.
 */
export async function submitSignUp(page: Page, webUrl: string | undefined, user: { name: string; email: string }) {
  if (webUrl) await page.goto(webUrl);
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByRole("heading", { name: "Create an account" }).waitFor();
  await page.getByLabel("Name").fill(user.name);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  return landing(page);
}

/** Opens the start page (unless `webUrl` is undefined: already on the sign-in form) and signs in. */
export async function submitSignIn(page: Page, webUrl: string | undefined, email: string) {
  if (webUrl) await page.goto(webUrl);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  return landing(page);
}

export async function signUp(page: Page, webUrl: string, user: { name: string; email: string }) {
  expect(await submitSignUp(page, webUrl, user)).toBe("board");
}

export async function signIn(page: Page, webUrl: string | undefined, email: string) {
  expect(await submitSignIn(page, webUrl, email)).toBe("board");
}

export async function addTask(page: Page, title: string, options: { priority?: string; due?: string } = {}) {
  const form = page.getByRole("form", { name: "New task" });
  await form.getByLabel("Title").fill(title);
  if (options.priority) await form.getByLabel("Priority").selectOption(options.priority);
  if (options.due) await form.getByLabel("Due date").fill(options.due);
  await form.getByRole("button", { name: "Add" }).click();
  await taskItem(page, title).waitFor();
}

export function taskItem(page: Page, title: string) {
  return page.getByRole("listitem").filter({ has: page.getByText(title, { exact: true }) });
}

/**
 * Waits until the list shows exactly these titles, in this order, and its count agrees; fails with
 * what it shows after `timeoutMs`.
 */
export async function expectTitles(page: Page, expected: string[], timeoutMs = 5_000) {
  const count = `${expected.length} ${expected.length === 1 ? "task" : "tasks"}`;
  const deadline = Date.now() + timeoutMs;
  let shown: { titles: string[]; count: boolean };
  do {
    shown = {
      titles: await page.locator(".tasks > li .title").allTextContents(),
      count: await page.getByText(count, { exact: true }).isVisible(),
    };
    if (shown.count && Bun.deepEquals(shown.titles, expected)) return;
    await Bun.sleep(50);
  } while (Date.now() < deadline);
  expect(shown).toEqual({ titles: expected, count: true });
}

/** The API's own answer for the page's signed-in user, with the token the page would use. */
export async function tasksOnApi(page: Page, apiUrl: string) {
  const { token } = await page.evaluate(async () => (await fetch("/api/auth/token")).json());
  const response = await fetch(`${apiUrl}/api/tasks?sort=title`, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET /api/tasks: ${response.status} ${await response.text()}`);
  return (await response.json()) as Task[];
}

/** Polls `condition` until it holds; fails after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${condition}`);
    await Bun.sleep(50);
  }
}
