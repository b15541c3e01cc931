/* Minqing visit pages offline: network first, the last good copy when offline. */
const ASSETS = {{ assets|safe }};
const CACHE = "minqing-visits-v1";
const PAGES = ["/visits/", "/visits/new/"];
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});
self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  // Only the pages a visitor needs in a farmyard: "my households" and the visit form.
  const page = PAGES.includes(url.pathname);
  const asset = ASSETS.includes(url.pathname);
  if (!page && !asset) return;
  event.respondWith(
    fetch(req).then((res) => {
      if (res.ok && !res.redirected) {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(page ? url.pathname : req, copy));
      } else if (page && res.redirected) {
        // Sent to log in: whoever uses the phone now must not find the last user's households
        // in the kept pages (unsent visits stay in the outbox, never in this cache).
        caches.open(CACHE).then((c) => Promise.all(PAGES.map((p) => c.delete(p))));
      }
      return res;
    }).catch(() =>
      caches.open(CACHE).then((c) => c.match(page ? url.pathname : req)).then(
        (hit) => hit || new Response("offline", { status: 503 })
      )
    )
  );
});
