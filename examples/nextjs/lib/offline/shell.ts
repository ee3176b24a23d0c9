// Registers the service worker that keeps the app shell (public/sw.js) and hands it what this page
// loaded before the worker controlled it, so the next visit opens without a network.
const SHELL_CACHE = "todo-shell-v1";

export async function keepAppShell() {
  // Not under `next dev`: its files keep their names across edits, and a kept copy would hide them.
  if (process.env.NODE_ENV !== "production" || !("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.register("/sw.js");
  const worker = registration.active ?? (await navigator.serviceWorker.ready).active;
  const loaded = performance
    .getEntriesByType("resource")
    .map((entry) => entry.name)
    .filter((url) => new URL(url).origin === location.origin && new URL(url).pathname.startsWith("/_next/static/"));
  worker?.postMessage({ type: "cache", urls: ["/", "/icon.svg", ...loaded] });
}

/** After signing out: the kept board page was this user's. */
export async function forgetAppShell() {
  if ("caches" in window) await caches.delete(SHELL_CACHE);
}
