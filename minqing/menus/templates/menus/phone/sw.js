{% load i18n %}/* Minqing's quarterly-menu pages offline: network first, the last good copy when offline.
 *
 * Scope /menus/ (the visit diary's worker has /visits/: each looks after its own pages and
 * its own cache, "minqing-menus-…"). Kept: the visitor's tasks (/menus/tasks/) and the form
 * of each of my open tasks (/menus/tasks/<id>/, its version's questions in the page). The
 * task list asks for all of them when it loads online (message "precache"), so a form opens
 * in a farmyard with no network even if it was never opened before. A page is kept only when
 * the server marks it X-Minqing-Offline: keep (my own tasks, masked values only). Sent to log
 * in: the kept pages are forgotten (the outbox stays, sealed).
 */
const ASSETS = {{ assets|safe }};
const CACHE = "minqing-menus-v1";
const TASKS = "{{ tasks_url|escapejs }}";
const PAGE = /^\/menus\/tasks\/(\d+\/)?$/;
const OFFLINE = "<!DOCTYPE html><html lang=\"{{ LANGUAGE_CODE|default:'zh-hans' }}\"><head><meta charset=\"utf-8\">" +
  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
  "<title>{% translate 'No connection'|escapejs %}</title><link rel=\"stylesheet\" href=\"" + ASSETS[0] + "\"></head>" +
  "<body><main><h1>{% translate 'No connection'|escapejs %}</h1>" +
  "<p class=\"card\">{% translate 'This page was not kept on this phone. Answers already saved here stay in the outbox and are sent when there is a connection.'|escapejs %}</p>" +
  "<p><a class=\"button\" href=\"" + TASKS + "\">{% translate 'Visit tasks'|escapejs %}</a></p></main></body></html>";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((k) => k.startsWith("minqing-menus-") && k !== CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function forgetPages(cache) {
  return cache.keys().then((reqs) => Promise.all(reqs
    .filter((r) => PAGE.test(new URL(r.url).pathname))
    .map((r) => cache.delete(r))));
}

/* Keep a good answer for a page under its path; a page sent to log in forgets them all. */
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
    .filter((u) => u.origin === self.location.origin && PAGE.test(u.pathname))
    .map((u) => u.pathname);
  event.waitUntil(Promise.all(paths.map((path) =>
    fetch(path, { credentials: "same-origin", cache: "no-store", redirect: "follow" })
      .then((res) => keep(path, res))
      .catch(() => {})
  )).then(() => {
    if (event.source) event.source.postMessage({ type: "precached", count: paths.length });
  }));
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  const page = PAGE.test(url.pathname);
  const asset = ASSETS.includes(url.pathname);
  if (!page && !asset) return;
  event.respondWith(
    fetch(req).then((res) => {
      const copy = res.clone();
      if (page && !url.search) keep(url.pathname, copy);
      else if (asset && res.ok) caches.open(CACHE).then((c) => c.put(req, copy));
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
