{% load i18n %}/* Minqing visit pages offline: network first, the last good copy when offline.
 *
 * Kept: "my households" (/visits/) and the visit form (/visits/new/, one copy for every
 * household: the form lists all of mine and its script picks the one named in the address).
 * "My households" asks for both to be kept when it loads online (message "precache"), so the
 * form of each of my households opens in a farmyard with no network even if it was never
 * opened before. Sent to log in: the kept pages are forgotten (the outbox stays).
 * A page is kept only when the server marks it X-Minqing-Offline: keep — the copies that list
 * the visitor's own households and nothing revealed; the form opened for a household outside
 * my care (a night-visit stop, ?household=) is shown but never kept.
 */
const ASSETS = {{ assets|safe }};
const CACHE = "minqing-visits-v3";
const PAGES = ["/visits/", "/visits/new/"];
const OFFLINE = "<!DOCTYPE html><html lang=\"{{ LANGUAGE_CODE|default:'zh-hans' }}\"><head><meta charset=\"utf-8\">" +
  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
  "<title>{% translate 'No connection'|escapejs %}</title><link rel=\"stylesheet\" href=\"" + ASSETS[0] + "\"></head>" +
  "<body><main><h1>{% translate 'No connection'|escapejs %}</h1>" +
  "<p class=\"card\">{% translate 'This page was not kept on this phone. Visits already saved here stay in the outbox and are sent when there is a connection.'|escapejs %}</p>" +
  "<p><a class=\"button\" href=\"/visits/\">{% translate 'My households'|escapejs %}</a></p></main></body></html>";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("minqing-visits-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function forgetPages(cache) {
  return Promise.all(PAGES.map((p) => cache.delete(p)));
}

/* Keep a good answer for a page under its path; a page sent to log in forgets them all:
 * whoever uses the phone now must not find the last user's households in the kept pages. */
function keep(path, res) {
  return caches.open(CACHE).then((c) => {
    if (res.ok && !res.redirected && res.type !== "opaqueredirect") {
      return res.headers.get("X-Minqing-Offline") === "keep" ? c.put(path, res) : undefined;
    }
    if (res.redirected || res.type === "opaqueredirect") return forgetPages(c);
  });
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "precache" || !Array.isArray(data.urls)) return;
  const paths = data.urls
    .map((u) => new URL(u, self.location.origin))
    .filter((u) => u.origin === self.location.origin && PAGES.includes(u.pathname))
    .map((u) => u.pathname);
  event.waitUntil(Promise.all(paths.map((path) =>
    fetch(path, { credentials: "same-origin", cache: "no-store", redirect: "follow" })
      .then((res) => keep(path, res))
      .catch(() => {})
  )));
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
      const copy = res.clone();
      if (page) keep(url.pathname, copy);
      else if (res.ok) caches.open(CACHE).then((c) => c.put(req, copy));
      return res;
    }).catch(() =>
      caches.open(CACHE).then((c) => c.match(page ? url.pathname : req)).then((hit) => {
        if (hit) return hit;
        if (page) {
          return new Response(OFFLINE, {
            status: 503, headers: { "Content-Type": "text/html; charset=utf-8" },
          });
        }
        return new Response("", { status: 503 });
      })
    )
  );
});
