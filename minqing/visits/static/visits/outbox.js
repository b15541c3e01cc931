/* Minqing visit outbox: visits are kept on the phone (IndexedDB) until the server has them.
 *
 * Each visit gets its client id (client_uuid) when the form is shown. Saving puts the record in
 * the outbox first, then sends it to /api/v1/visits/; a record leaves the outbox only when the
 * server answers 200/201 (saved, or already saved — a replay changes nothing). 409 (another
 * record under the same id) and 400 (refused) keep the record and say why; no connection, a
 * lost answer or an expired session keep it for the next try ("online", page load, every 30 s).
 */
(function () {
  "use strict";
  var DB = "minqing", STORE = "outbox";
  var form = document.getElementById("visit-form");
  var box = document.getElementById("outbox");
  var texts = form ? form.dataset : {};
  var apiUrl = form ? form.dataset.api : "/api/v1/visits/";
  var tokenUrl = form ? form.dataset.token : "/visits/token/";
  var sending = false;

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/visits/sw.js", { scope: "/visits/" }).catch(function () {});
  }

  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(STORE, { keyPath: "client_uuid" });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  var all = function () { return tx("readonly", function (s) { return s.getAll(); }); };
  var put = function (item) { return tx("readwrite", function (s) { s.put(item); }); };
  var drop = function (id) { return tx("readwrite", function (s) { s.delete(id); }); };

  function uuid4() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function show(items, note) {
    if (!box) return;
    var unsent = items.length;
    box.hidden = unsent === 0 && !note;
    var problems = items.filter(function (i) { return i.error; }).map(function (i) { return i.error; });
    box.querySelector("[data-outbox-count]").textContent =
      (unsent ? unsent + " " + (texts.msgUnsent || "visits not sent yet") : "") +
      (note ? " " + note : "") + (problems.length ? " — " + problems.join("; ") : "");
  }

  function record() {
    var f = form.elements;
    var problems = [];
    for (var i = 1; i <= 3; i++) {
      var colour = form.querySelector("input[name=p" + i + "_colour]:checked");
      var description = f["p" + i + "_description"].value.trim();
      var resolution = f["p" + i + "_resolution"].value.trim();
      if (colour || description || resolution) {
        problems.push({
          colour: colour ? colour.value : "",
          description: description,
          resolution: resolution,
          category: f["p" + i + "_category"].value,
        });
      }
    }
    var option = f.household.options[f.household.selectedIndex];
    var situation = f.situation.value.trim();
    var mode = form.querySelector("input[name=mode]:checked");
    return {
      user: parseInt(form.dataset.user, 10),
      client_uuid: f.client_uuid.value,
      household: parseInt(f.household.value, 10),
      household_label: option ? option.textContent : "",
      mode: mode ? mode.value : "home",
      visited_at: new Date(f.visited_at.value).toISOString(),
      notes: f.notes.value.trim(),
      materials: f.materials.value.trim(),
      problems: problems,
      situation: situation || null,
      household_version: option && option.dataset.version ? parseInt(option.dataset.version, 10) : null,
      companions: Array.prototype.map.call(
        form.querySelectorAll("input[name=companions]:checked"),
        function (c) { return parseInt(c.value, 10); }
      ),
      night_plan: f.night && f.night.value ? parseInt(f.night.value, 10) : null,
    };
  }

  function reset() {
    form.reset();
    form.elements.client_uuid.value = uuid4();
    if (form.elements.night) form.elements.night.value = ""; // the next visit is no stop of it
    var now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);
    form.elements.visited_at.value = now.toISOString().slice(0, 16);
    form.querySelectorAll("details.problem").forEach(function (d) { d.open = false; });
  }

  function body(item) {
    var copy = Object.assign({}, item);
    delete copy.household_label; delete copy.error; delete copy.user;
    return JSON.stringify(copy);
  }

  function send() {
    if (sending) return Promise.resolve();
    sending = true;
    var note = ""; // why nothing more could be sent this time (shown beside the count)
    return all().then(function (items) {
      if (!items.length || !navigator.onLine) { show(items); return; }
      return fetch(tokenUrl, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
        .then(function (res) {
          if (!res.ok) { note = texts.msgLogin || ""; return; }
          return res.json().then(function (t) {
            return items.reduce(function (chain, item) {
              return chain.then(function (go) {
                if (go === false) return false;
                if (item.user && item.user !== t.user) {
                  // A shared phone: a visit goes to the server only under the account that
                  // recorded it (the server would take the session's user as the visitor).
                  item.error = item.household_label + ": " + (texts.msgOther || "another account");
                  return put(item);
                }
                return fetch(apiUrl, {
                  method: "POST", credentials: "same-origin", cache: "no-store",
                  headers: { "Content-Type": "application/json", "X-CSRFToken": t.csrf },
                  body: body(item),
                }).then(function (res) {
                  if (res.status === 200 || res.status === 201) return drop(item.client_uuid);
                  if (res.status === 401 || res.status === 403) { note = texts.msgLogin || ""; return false; }
                  return res.json().catch(function () { return {}; }).then(function (answer) {
                    item.error = item.household_label + ": " +
                      (res.status === 409 ? (texts.msgConflict || "conflict") : (answer.detail || res.status));
                    return put(item);
                  });
                });
              });
            }, Promise.resolve(true));
          });
        })
        .then(function () { return all(); })
        .then(function (left) { show(left, left.length ? note : ""); });
    }).catch(function () {
      return all().then(function (left) { show(left); });
    }).then(function () { sending = false; }, function () { sending = false; });
  }

  if (form) {
    // A fresh id for every form shown: the page itself may be a copy the service worker kept.
    form.elements.client_uuid.value = uuid4();
    var wanted = new URLSearchParams(location.search).get("household");
    if (wanted && form.elements.household.querySelector('option[value="' + wanted + '"]')) {
      form.elements.household.value = wanted;
    }
    form.addEventListener("submit", function (event) {
      if (!window.indexedDB) return; // no outbox: the plain form post still works
      event.preventDefault();
      var item = record();
      put(item).then(function () {
        var saved = document.getElementById("outbox-saved");
        saved.textContent = texts.msgSaved || "";
        saved.hidden = false;
        reset();
        window.scrollTo(0, 0);
        return send().then(all).then(function (left) {
          if (!left.some(function (i) { return i.client_uuid === item.client_uuid; })) {
            saved.textContent = texts.msgSent || "";
          }
        });
      });
    });
  }
  document.querySelectorAll("[data-outbox-send]").forEach(function (b) {
    b.addEventListener("click", send);
  });
  window.addEventListener("online", send);
  setInterval(send, 30000);
  send();
})();
