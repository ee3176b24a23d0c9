// The whole path in a real browser: a person signs up with the example's Better Auth, the page gets
// a jwt() token, and calls the API on another origin (CORS) with Eden; the API verifies the token
// through Better Auth's key set (servers: e2e/servers.ts).
// Tests run in order and share the first user's page.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { RunningProcess } from "../scripts/stack.ts";
import {
  addTask,
  browserTest,
  expectTitles,
  newPage,
  outputDir,
  signIn,
  signUp,
  taskItem,
  tasksOnApi,
  waitUntil,
} from "./browser.ts";
import { startTestServers, type TestServers } from "./servers.ts";

let servers: TestServers;
let api: RunningProcess;
let web: RunningProcess;
let browser: Browser;
let page: Page;

const ada = { name: "Ada", email: `ada-${Date.now()}@example.com` };

beforeAll(async () => {
  servers = await startTestServers();
  ({ api, web, browser } = servers);
  page = await newPage(browser);
}, 180_000);

afterAll(async () => {
  await servers?.stop();
});

describe("the example in Chromium", () => {
  browserTest(
    "a newcomer signs up and lands on an empty task list",
    () => browser,
    async () => {
      await signUp(page, web.url, ada);
      await page.getByText(ada.email).waitFor();
      await expectTitles(page, []);
    },
  );

  browserTest(
    "adds three tasks, newest first; the API holds them for this user",
    () => browser,
    async () => {
      await addTask(page, "Buy milk", { priority: "low" });
      await addTask(page, "Write the report", { priority: "high", due: "2026-12-01" });
      await addTask(page, "Call the plumber", { priority: "medium" });
      await expectTitles(page, ["Call the plumber", "Write the report", "Buy milk"]);

      // The board shows a change at once; the API has it once the outbox has sent it.
      await waitUntil(async () => (await tasksOnApi(page, api.url)).length === 3);
      const onApi = await tasksOnApi(page, api.url);
      expect(onApi.map((t) => [t.title, t.priority, t.due_date])).toEqual([
        ["Buy milk", "low", null],
        ["Call the plumber", "medium", null],
        ["Write the report", "high", "2026-12-01T00:00:00.000Z"],
      ]);
      expect(new Set(onApi.map((t) => t.user_id)).size).toBe(1);
    },
  );

  browserTest(
    "toggles a task done at once, before the server has answered",
    () => browser,
    async () => {
      // The API's answer held back for a second: the box must change without waiting for it.
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      await page.route("**/api/tasks/*/complete", async (route) => {
        if (route.request().method() === "PATCH") await held;
        await route.continue();
      });
      await taskItem(page, "Buy milk").getByRole("checkbox").click();
      await taskItem(page, "Buy milk").and(page.locator(".done")).waitFor({ timeout: 500 });
      expect(await taskItem(page, "Buy milk").getByRole("checkbox").isChecked()).toBe(true);
      release();
      const deadline = Date.now() + 5_000;
      while ((await tasksOnApi(page, api.url)).find((t) => t.title === "Buy milk")?.completed !== true) {
        expect(Date.now()).toBeLessThan(deadline);
        await Bun.sleep(50);
      }
      expect(await taskItem(page, "Buy milk").getByRole("checkbox").isChecked()).toBe(true);
      await page.unrouteAll({ behavior: "wait" });
    },
  );

  browserTest(
    "filters by status, priority and text, and sorts",
    () => browser,
    async () => {
      await page.getByLabel("Status").selectOption("completed");
      await expectTitles(page, ["Buy milk"]);
      await page.getByLabel("Status").selectOption("pending");
      await expectTitles(page, ["Call the plumber", "Write the report"]);
      await page.getByLabel("Status").selectOption("all");

      await page.getByLabel("Priority filter").selectOption("high");
      await expectTitles(page, ["Write the report"]);
      await page.getByLabel("Priority filter").selectOption("");

      await page.getByLabel("Search").fill("PLUMB");
      await expectTitles(page, ["Call the plumber"]);
      await page.getByLabel("Search").fill("");

      await page.getByLabel("Sort by").selectOption("title");
      await expectTitles(page, ["Buy milk", "Call the plumber", "Write the report"]);
      await page.getByLabel("Order").selectOption("desc");
      await expectTitles(page, ["Write the report", "Call the plumber", "Buy milk"]);
      await page.getByLabel("Sort by").selectOption("priority");
      await page.getByLabel("Order").selectOption("");
      await expectTitles(page, ["Write the report", "Call the plumber", "Buy milk"]);
      await page.getByLabel("Sort by").selectOption("created");
      await expectTitles(page, ["Call the plumber", "Write the report", "Buy milk"]);
    },
  );

  browserTest(
    "edits a task: focus moves into the form, Escape closes it and gives focus back; the description shows",
    () => browser,
    async () => {
      const edit = page.getByRole("button", { name: "Edit: Call the plumber" });
      await edit.click();
      let form = page.getByRole("form", { name: "Edit Call the plumber" });
      await form.getByLabel("Title").waitFor();
      await waitUntil(() => form.getByLabel("Title").evaluate((input) => input === document.activeElement));
      await page.keyboard.press("Escape");
      await form.waitFor({ state: "detached" });
      await waitUntil(() => edit.evaluate((button) => button === document.activeElement));

      await edit.click();
      form = page.getByRole("form", { name: "Edit Call the plumber" });
      await form.getByLabel("Title").fill("Call the plumber again");
      await form.getByLabel("Description").fill("The kitchen sink drips.");
      await form.getByRole("button", { name: "Save" }).click();
      await expectTitles(page, ["Call the plumber again", "Write the report", "Buy milk"]);
      await taskItem(page, "Call the plumber again").getByText("The kitchen sink drips.").waitFor();
      await waitUntil(async () => (await tasksOnApi(page, api.url)).some((t) => t.title === "Call the plumber again"));
      const edited = (await tasksOnApi(page, api.url)).find((t) => t.title === "Call the plumber again");
      expect([edited?.description, edited?.priority]).toEqual(["The kitchen sink drips.", "medium"]);
    },
  );

  browserTest(
    "deletes a task at once, can undo it, and the delete reaches the API once the undo is gone",
    () => browser,
    async () => {
      await page.getByRole("button", { name: "Delete: Buy milk" }).click();
      await expectTitles(page, ["Call the plumber again", "Write the report"]);
      await page.getByRole("status").getByRole("button", { name: "Undo" }).click();
      await expectTitles(page, ["Call the plumber again", "Write the report", "Buy milk"]);
      expect((await tasksOnApi(page, api.url)).map((t) => t.title)).toContain("Buy milk");

      await page.getByRole("button", { name: "Delete: Buy milk" }).click();
      await expectTitles(page, ["Call the plumber again", "Write the report"]);
      await page.getByRole("status").waitFor({ state: "detached", timeout: 8_000 });
      await waitUntil(async () => (await tasksOnApi(page, api.url)).length === 2);
      expect((await tasksOnApi(page, api.url)).map((t) => t.title)).toEqual([
        "Call the plumber again",
        "Write the report",
      ]);
    },
  );

  browserTest(
    "after a reload the list is as it was",
    () => browser,
    async () => {
      await page.reload();
      await expectTitles(page, ["Call the plumber again", "Write the report"]);
      await expect(taskItem(page, "Write the report").getByRole("checkbox").isChecked()).resolves.toBe(false);
    },
  );

  browserTest(
    "the board on a 390×844 phone: no failed request (favicon), visible filter labels, one-line titles and dates",
    () => browser,
    async () => {
      const phone = await newPage(browser, { width: 390, height: 844 });
      const failed: string[] = [];
      phone.on("response", (response) => {
        if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
      });
      await signIn(phone, web.url, ada.email);
      await expectTitles(phone, ["Call the plumber again", "Write the report"]);
      for (const label of ["Status", "Priority", "Search", "Sort by", "Order"]) {
        await phone.locator(".filters label > span", { hasText: new RegExp(`^${label}$`) }).waitFor();
      }
      const lines = async (selector: string) =>
        phone
          .locator(selector)
          .evaluateAll((elements) =>
            elements.map((e) =>
              Math.round(e.getBoundingClientRect().height / Number.parseFloat(getComputedStyle(e).lineHeight)),
            ),
          );
      expect(await lines(".tasks .title")).toEqual([1, 1]);
      expect(await lines(".tasks time")).toEqual([1]);
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await phone.screenshot({ path: join(outputDir, "board-390x844-online.png"), fullPage: true });
      await page.screenshot({ path: join(outputDir, "board-desktop-online.png"), fullPage: true });
      expect(failed).toEqual([]);
      await phone.context().close();
    },
  );

  // Needs GET /api/tasks/events (the live events issue).
  browserTest(
    "a second browser context signed in as the same user sees a change made in the first within 2 s",
    () => browser,
    async () => {
      const other = await newPage(browser);
      await signIn(other, web.url, ada.email);
      await expectTitles(other, ["Call the plumber again", "Write the report"]);
      await addTask(page, "Pay the rent");
      const shownAt = Date.now();
      await taskItem(other, "Pay the rent").waitFor({ timeout: 2_000 });
      console.log(`the other context showed the new task ${Date.now() - shownAt} ms after the first did`);
      await other.context().close();
    },
  );

  // Needs ETag and If-Match on the task routes (the sync issue), exposed and allowed by CORS.
  browserTest(
    "an edit saved over a change made on another device is refused, shown, and applied again on request",
    () => browser,
    async () => {
      const other = await newPage(browser);
      await signIn(other, web.url, ada.email);
      await page.getByRole("button", { name: "Edit: Write the report" }).click();
      const form = page.getByRole("form", { name: "Edit Write the report" });
      await form.getByLabel("Title").waitFor();

      await other.getByRole("button", { name: "Edit: Write the report" }).click();
      const otherForm = other.getByRole("form", { name: "Edit Write the report" });
      await otherForm.getByLabel("Title").fill("Write the final report");
      await otherForm.getByRole("button", { name: "Save" }).click();
      await waitUntil(async () => (await tasksOnApi(page, api.url)).some((t) => t.title === "Write the final report"));

      await form.getByLabel("Priority").selectOption("low");
      await form.getByRole("button", { name: "Save" }).click();
      const conflict = page.getByRole("alert").filter({ hasText: "changed on another device" });
      await conflict.waitFor();
      await taskItem(page, "Write the final report").waitFor();
      let onApi = (await tasksOnApi(page, api.url)).find((t) => t.title === "Write the final report");
      expect(onApi?.priority).toBe("high");

      await conflict.getByRole("button", { name: "Apply my change again" }).click();
      await conflict.waitFor({ state: "detached" });
      await waitUntil(async () => {
        onApi = (await tasksOnApi(page, api.url)).find((t) => t.title === "Write the final report");
        return onApi?.priority === "low";
      });
      await other.context().close();
    },
  );

  browserTest(
    "a second user sees none of the first user's tasks",
    () => browser,
    async () => {
      const grace = await newPage(browser);
      await signUp(grace, web.url, { name: "Grace", email: `grace-${Date.now()}@example.com` });
      await expectTitles(grace, []);
      expect(await tasksOnApi(grace, api.url)).toEqual([]);
      await addTask(grace, "Grace's own task");
      await page.reload();
      await expect(page.getByText("Grace's own task").count()).resolves.toBe(0);
      await grace.context().close();
    },
  );

  browserTest(
    "signs out, and signs in again to the same tasks",
    () => browser,
    async () => {
      const before = await page.locator(".tasks > li .title").allTextContents();
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await signIn(page, undefined, ada.email);
      await expectTitles(page, before);
    },
  );
});
