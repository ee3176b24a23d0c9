// The app shell, kept for offline use: the board's page and the scripts and styles it loaded. The
// tasks themselves live in IndexedDB (lib/offline/sync.ts); the API and Better Auth are never cached.
const SHELL = "todo-shell-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// The page sends what it loaded before this worker controlled it (its first visit).
self.addEventListener("message", (event) => {
  if (event.data?.type === "cache") event.waitUntil(cacheAll(event.data.urls));
  if (event.data?.type === "forget") event.waitUntil(caches.delete(SHELL));
});

async function cacheAll(urls) {
  const cache = await caches.open(SHELL);
  await Promise.all(
    urls.map(async (url) => {
      if (await cache.match(url)) return;
      const response = await fetch(url, { credentials: "same-origin" }).catch(() => undefined);
      if (response?.ok && !response.redirected) await cache.put(url, response);
    }),
  );
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") event.respondWith(networkFirst(request));
  // Built files have content hashes in their names: a cached copy is never stale.
  else if (url.pathname.startsWith("/_next/static/") || url.pathname === "/icon.svg")
    event.respondWith(cacheFirst(request));
});

/** Pages come from the network when it answers, so sign-in redirects and new builds apply at once. */
async function networkFirst(request) {
  const cache = await caches.open(SHELL);
  try {
    const response = await fetch(request);
    // Only the board is kept (a redirect to sign-in is not a page to show offline).
    if (response.ok && !response.redirected && new URL(request.url).pathname === "/") {
      await cache.put("/", response.clone());
    }
    return response;
  } catch (error) {
    const cached = (await cache.match(request, { ignoreSearch: true })) ?? (await cache.match("/"));
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(SHELL);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
