// The whole path in a real browser: a person signs up with the example's Better Auth, the page gets
// a jwt() token, and calls the API on another origin (CORS) with Eden; the API verifies the token
// through Better Auth's key set (servers: e2e/servers.ts).
// Tests run in order and share the first user's page.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import type { Browser, Page } from "playwright-core";
import type { RunningProcess } from "../scripts/stack.ts";
import { addTask, browserTest, expectTitles, newPage, signIn, signUp, taskItem, tasksOnApi } from "./browser.ts";
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
    "toggles a task done",
    () => browser,
    async () => {
      await taskItem(page, "Buy milk").getByRole("checkbox").click();
      await taskItem(page, "Buy milk").and(page.locator(".done")).waitFor();
      const milk = (await tasksOnApi(page, api.url)).find((t) => t.title === "Buy milk");
      expect(milk?.completed).toBe(true);
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
    "edits a task",
    () => browser,
    async () => {
      await page.getByRole("button", { name: "Edit: Call the plumber" }).click();
      const form = page.getByRole("form", { name: "Edit Call the plumber" });
      await form.getByLabel("Title").fill("Call the plumber again");
      await form.getByLabel("Description").fill("The kitchen sink drips.");
      await form.getByRole("button", { name: "Save" }).click();
      await expectTitles(page, ["Call the plumber again", "Write the report", "Buy milk"]);
      const edited = (await tasksOnApi(page, api.url)).find((t) => t.title === "Call the plumber again");
      expect([edited?.description, edited?.priority]).toEqual(["The kitchen sink drips.", "medium"]);
    },
  );

  browserTest(
    "deletes a task",
    () => browser,
    async () => {
      await page.getByRole("button", { name: "Delete: Buy milk" }).click();
      await expectTitles(page, ["Call the plumber again", "Write the report"]);
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
    "an edit saved over a change made on another device is refused, and the current version is shown",
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
      await taskItem(other, "Write the final report").waitFor();

      await form.getByLabel("Priority").selectOption("low");
      await form.getByRole("button", { name: "Save" }).click();
      await page.getByRole("alert").filter({ hasText: "changed on another device" }).waitFor();
      const current = page.getByRole("form", { name: "Edit Write the final report" });
      await expect(current.getByLabel("Title").inputValue()).resolves.toBe("Write the final report");
      await expect(current.getByLabel("Priority").inputValue()).resolves.toBe("high");
      const onApi = (await tasksOnApi(page, api.url)).find((t) => t.title === "Write the final report");
      expect(onApi?.priority).toBe("high");
      await current.getByRole("button", { name: "Cancel" }).click();
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
