// Offline-first, as a phone on a train uses it: three browser contexts (two of one user, one of
// another) each make 20 changes with the network off (context.setOffline), including
// create→edit→toggle→delete chains and a reload while offline (the service worker's shell and the
// IndexedDB copy). Back online, every context of a user must show exactly what the API's
// GET /api/tasks holds within 5 s, with nothing lost or duplicated and the other user untouched;
// then the same once more with the API restarted while the outboxes drain.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { browserTest, newPage, outputDir, signIn, signUp, taskItem, tasksOnApi, waitUntil } from "./browser.ts";
import { startTestServers, type TestServers } from "./servers.ts";

let servers: TestServers;
const run = Date.now();
const ada = { name: "Ada", email: `ada-offline-${run}@example.com` };
const bob = { name: "Bob", email: `bob-offline-${run}@example.com` };

interface Device {
  name: string;
  page: Page;
  user: "ada" | "bob";
}
let devices: Device[];
/** What each user's tasks must be: title → completed. */
const expected = { ada: new Map<string, boolean>(), bob: new Map<string, boolean>() };

beforeAll(async () => {
  servers = await startTestServers();
  const [a1, a2, b] = [
    await newPage(servers.browser),
    await newPage(servers.browser),
    await newPage(servers.browser, { width: 390, height: 844 }),
  ];
  await signUp(a1, servers.web.url, ada);
  await signIn(a2, servers.web.url, ada.email);
  await signUp(b, servers.web.url, bob);
  devices = [
    { name: "a1", page: a1, user: "ada" },
    { name: "a2", page: a2, user: "ada" },
    { name: "b", page: b, user: "bob" },
  ];
}, 180_000);

afterAll(async () => {
  await servers?.stop();
});

async function create(page: Page, title: string) {
  const form = page.getByRole("form", { name: "New task" });
  await form.getByLabel("Title").fill(title);
  await form.getByRole("button", { name: "Add" }).click();
  await taskItem(page, title).waitFor();
}

async function edit(page: Page, title: string, newTitle: string) {
  await page.getByRole("button", { name: `Edit: ${title}`, exact: true }).click();
  const form = page.getByRole("form", { name: `Edit ${title}`, exact: true });
  await form.getByLabel("Title").fill(newTitle);
  await form.getByRole("button", { name: "Save" }).click();
  await taskItem(page, newTitle).waitFor();
}

async function toggle(page: Page, title: string) {
  const box = taskItem(page, title).getByRole("checkbox");
  const was = await box.isChecked();
  await box.click();
  await waitUntil(async () => (await box.isChecked()) !== was);
}

async function remove(page: Page, title: string) {
  await page.getByRole("button", { name: `Delete: ${title}`, exact: true }).click();
  await page.getByRole("status").getByRole("button", { name: "Dismiss" }).click();
  await taskItem(page, title).waitFor({ state: "detached" });
}

/** What the board shows: title → completed. */
async function shown(page: Page) {
  const rows = await page
    .locator(".tasks > li")
    .evaluateAll((items) =>
      items.map((li) => [
        li.querySelector(".title")?.textContent ?? "",
        (li.querySelector("input[type=checkbox]") as HTMLInputElement | null)?.checked ?? false,
      ]),
    );
  return rows as [string, boolean][];
}

const sorted = (rows: [string, boolean][]) => [...rows].sort(([a], [b]) => a.localeCompare(b));

/** The API's answer for the device's user, as title → completed rows; titles counted (duplicates stay). */
async function onApi(device: Device) {
  return sorted((await tasksOnApi(device.page, servers.api.url)).map((t) => [t.title, t.completed]));
}

/** The service worker controls the page and keeps the board: a reload works offline. */
async function shellKept(page: Page) {
  await waitUntil(() =>
    page.evaluate(async () => Boolean(navigator.serviceWorker.controller) && Boolean(await caches.match("/"))),
  );
}

/** 20 changes with the network off, a reload among them; records what the user's tasks must become. */
async function offlineChanges(device: Device, round: string) {
  const { page } = device;
  const p = `${device.name}-${round}`;
  const mine = expected[device.user];
  const t = (name: string) => `${p}-${name}`;
  for (const name of ["c1", "c2", "c3", "k1"]) await create(page, t(name)); // 1–4
  await edit(page, t("k1"), t("k1x")); // 5
  await toggle(page, t("k1x")); // 6
  await remove(page, t("k1x")); // 7
  await toggle(page, t("base1")); // 8
  await edit(page, t("base2"), t("base2x")); // 9
  const reloaded = await page.reload();
  expect(reloaded?.fromServiceWorker()).toBe(true);
  await page.getByRole("heading", { name: "Tasks" }).waitFor();
  await taskItem(page, t("base2x")).waitFor();
  expect(await taskItem(page, t("c1")).getAttribute("data-pending")).toBe("true");
  await create(page, t("k2")); // 10
  await edit(page, t("k2"), t("k2x")); // 11
  await toggle(page, t("k2x")); // 12
  await remove(page, t("k2x")); // 13
  await toggle(page, t("c1")); // 14
  await edit(page, t("c2"), t("c2x")); // 15
  await remove(page, t("base3")); // 16
  await create(page, t("c4")); // 17
  await toggle(page, t("c4")); // 18
  await edit(page, t("c4"), t("c4x")); // 19
  await remove(page, t("c3")); // 20
  for (const name of ["base1", "base2", "base3"]) mine.delete(t(name));
  mine.set(t("base1"), true).set(t("base2x"), false).set(t("c1"), true).set(t("c2x"), false).set(t("c4x"), true);
}

async function setOffline(offline: boolean) {
  await Promise.all(devices.map((d) => d.page.context().setOffline(offline)));
}

/**
 * Every device shows exactly its user's tasks on the API, nothing waiting in its outbox, and the
 * API holds exactly the expected ones (a duplicate would show as a repeated title).
 */
async function expectConverged(since: number, label: string) {
  const times: Record<string, number> = {};
  await Promise.all(
    devices.map(async (device) => {
      const want = sorted([...expected[device.user]]);
      const state = async () => ({
        device: device.name,
        api: await onApi(device).catch((error: Error) => error.message),
        shown: sorted(await shown(device.page)),
        waiting: await device.page.locator(".tasks > li[data-pending]").count(),
      });
      const done = { device: device.name, api: want, shown: want, waiting: 0 };
      await waitUntil(async () => Bun.deepEquals(await state(), done), 5_000).catch(async () => {
        expect(await state()).toEqual(done);
      });
      times[device.name] = Date.now() - since;
    }),
  );
  console.log(`${label}: every board equal to the API after (ms)`, times);
  for (const ms of Object.values(times)) expect(ms).toBeLessThan(5_000);
}

async function round(round: string, options: { restartApi: boolean }) {
  // Three tasks per device made online, to be changed offline.
  for (const device of devices) {
    for (const name of ["base1", "base2", "base3"]) {
      await create(device.page, `${device.name}-${round}-${name}`);
      expected[device.user].set(`${device.name}-${round}-${name}`, false);
    }
  }
  await expectConverged(Date.now(), `${round}, online`);
  for (const { page } of devices) await shellKept(page);

  await setOffline(true);
  for (const device of devices) await offlineChanges(device, round);
  const [a1, , b] = devices;
  await a1!.page.screenshot({ path: join(outputDir, `board-desktop-offline-${round}.png`), fullPage: true });
  await b!.page.screenshot({ path: join(outputDir, `board-390x844-offline-${round}.png`), fullPage: true });

  await setOffline(false);
  let since = Date.now();
  if (options.restartApi) {
    // The outboxes start draining at once; the API goes away under them and comes back.
    await Bun.sleep(100);
    await servers.restartApi();
    since = Date.now();
  }
  await expectConverged(since, `${round}, back online${options.restartApi ? " after an API restart" : ""}`);
  await a1!.page.screenshot({ path: join(outputDir, `board-desktop-online-${round}.png`), fullPage: true });
  await b!.page.screenshot({ path: join(outputDir, `board-390x844-online-${round}.png`), fullPage: true });
}

describe("offline, three browser contexts", () => {
  browserTest(
    "20 changes each offline; back online every board equals the API within 5 s, nothing lost or duplicated",
    () => servers.browser,
    () => round("r1", { restartApi: false }),
    240_000,
  );

  browserTest(
    "the same again, with the API restarted while the outboxes drain",
    () => servers.browser,
    () => round("r2", { restartApi: true }),
    240_000,
  );

  browserTest(
    "two tabs of one browser share one outbox: a change made offline in one shows in the other and reaches the API once",
    () => servers.browser,
    async () => {
      const [a1] = devices;
      const tab = await a1!.page.context().newPage();
      await tab.goto(servers.web.url);
      await tab.getByRole("heading", { name: "Tasks" }).waitFor();
      await setOffline(true);
      for (let i = 1; i <= 5; i++) await create(i % 2 ? a1!.page : tab, `two-tabs-${i}`);
      for (let i = 1; i <= 5; i++) {
        const other = i % 2 ? tab : a1!.page;
        await taskItem(other, `two-tabs-${i}`).waitFor();
        expect(await taskItem(other, `two-tabs-${i}`).getAttribute("data-pending")).toBe("true");
        expected.ada.set(`two-tabs-${i}`, false);
      }
      await setOffline(false);
      await expectConverged(Date.now(), "two tabs, back online");
      await tab.close();
    },
    120_000,
  );
});
