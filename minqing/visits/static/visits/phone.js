/* What a phone keeps ends with the session (a lost or shared phone gives nothing away).
 *
 * Logging out: when visits (or quarterly-menu records, kept in a database of their own by
 * static/menus/phone.js) recorded on this phone are not sent yet, the logout waits and says
 * so — send them (the outbox on "my households"), discard them deliberately, or (a shared phone,
 * another person's visits) keep them sealed for their owner; a queued record is never destroyed
 * without the user's word. With nothing unsent, the kept pages (the service
 * worker's cache) and the outbox database with its key are deleted, and the form tells the
 * server so, which then also answers Clear-Site-Data "cache", "storage".
 * Any page shown logged out (the login page after a logout or an expired session): the kept
 * pages are deleted, and the outbox too when it holds nothing.
 */
(function () {
  "use strict";
  var DB = "minqing";
  var DBS = [DB, "minqing-menus"]; // the visit outbox and the quarterly menu's
  var MENUS_OUTBOX = "/menus/tasks/";

  function fmt(text, values) {
    return String(text || "").replace(/%\((\w+)\)[ds]/g, function (m, k) {
      return values && values[k] !== undefined ? values[k] : m;
    });
  }
  /* How many records an outbox holds (0 when there is none; opening never creates one). */
  function unsentIn(name) {
    if (!window.indexedDB) return Promise.resolve(0);
    return new Promise(function (resolve) {
      var req = indexedDB.open(name);
      req.onupgradeneeded = function (event) {
        if (event.oldVersion === 0) req.transaction.abort(); // there was none: leave it so
      };
      req.onerror = function () { resolve(0); };
      req.onsuccess = function () {
        var db = req.result;
        if (!db.objectStoreNames.contains("outbox")) { db.close(); resolve(0); return; }
        var count = db.transaction("outbox").objectStore("outbox").count();
        count.onsuccess = function () { db.close(); resolve(count.result); };
        count.onerror = function () { db.close(); resolve(0); };
      };
    });
  }
  /* Unsent visits and unsent quarterly-menu records (static/menus/phone.js keeps its own). */
  var menusUnsent = 0;
  function unsent() {
    return Promise.all(DBS.map(unsentIn)).then(function (counts) {
      menusUnsent = counts[1];
      return counts[0] + counts[1];
    });
  }
  function clearPages() {
    if (!window.caches) return Promise.resolve();
    return caches.keys().then(function (keys) {
      return Promise.all(keys.map(function (k) { return caches.delete(k); }));
    }).catch(function () {});
  }
  function clearOutbox() {
    if (!window.indexedDB) return Promise.resolve();
    return Promise.all(DBS.map(function (name) {
      return new Promise(function (resolve) {
        var req = indexedDB.deleteDatabase(name);
        req.onsuccess = req.onerror = req.onblocked = function () { resolve(); };
      });
    }));
  }
  function clearAll() { return Promise.all([clearPages(), clearOutbox()]); }

  var form = document.querySelector("form[data-phone-logout]");
  if (!form) {
    unsent().then(function (n) { return n ? clearPages() : clearAll(); });
    return;
  }

  function logOut() {
    var mark = document.createElement("input");
    mark.type = "hidden"; mark.name = "phone"; mark.value = "cleared";
    form.appendChild(mark);
    form.submit(); // no "submit" event: not asked again
  }
  function warn(n) {
    var old = document.getElementById("phone-logout");
    if (old) old.remove();
    var box = document.createElement("section");
    box.id = "phone-logout";
    box.className = "card phone-logout";
    box.setAttribute("role", "alertdialog");
    var p = document.createElement("p");
    p.textContent = fmt(form.dataset.unsent, { count: n });
    box.appendChild(p);
    var actions = document.createElement("div");
    actions.className = "actions";
    var send = document.createElement("a");
    send.className = "button"; send.textContent = form.dataset.send;
    // only menu records unsent: their outbox is on the task list
    send.href = menusUnsent === n ? MENUS_OUTBOX : form.dataset.outbox;
    var discard = document.createElement("button");
    discard.type = "button"; discard.className = "secondary"; discard.dataset.act = "discard";
    discard.textContent = form.dataset.discard;
    var keep = document.createElement("button"); // a shared phone: another person's visits
    keep.type = "button"; keep.className = "secondary"; keep.dataset.act = "keep";
    keep.textContent = form.dataset.keep;
    var cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "secondary"; cancel.textContent = form.dataset.cancel;
    actions.appendChild(send); actions.appendChild(discard); actions.appendChild(keep);
    actions.appendChild(cancel);
    box.appendChild(actions);
    discard.addEventListener("click", function () {
      if (!window.confirm(fmt(form.dataset.confirm, { count: n }))) return;
      clearAll().then(logOut);
    });
    keep.addEventListener("click", function () { // sealed records stay; the kept pages go
      clearPages().then(function () { form.submit(); });
    });
    cancel.addEventListener("click", function () { box.remove(); });
    var main = document.querySelector("main") || document.body;
    main.insertBefore(box, main.firstChild);
    box.scrollIntoView({ block: "start" });
    send.focus();
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    unsent().then(function (n) {
      if (n) { warn(n); return; }
      clearAll().then(logOut);
    }, function () { form.submit(); });
  });
})();
