/* Minqing visit outbox: visits are kept on the phone (IndexedDB) until the server has them.
 *
 * One client id (client_uuid) per filled form: made when the form opens, kept until the server
 * acknowledges the visit. Saving checks what the phone can (household, lengths, time), puts the
 * record in the outbox first, then sends it to /api/v1/visits/. A record leaves the outbox only
 * when the server answers 200/201 (saved, or already saved: a replay changes nothing).
 *
 * States of a kept record:
 *   waiting  no connection, a lost answer, a server error: tried again ("online", page load,
 *            every 30 s, "Send now");
 *   login    the session ended, or the record belongs to another account: tried again once the
 *            right person is logged in;
 *   refused  the server said no (400, 404, 409, 422): it waits for the user, with the reason —
 *            open and correct it (then it is sent again), send it again as it is, or discard it.
 * The visit time is the phone's, with its UTC offset (ISO 8601): taken when "save" is tapped
 * unless the visitor changed the time field.
 *
 * At rest a kept record is ciphertext: AES-GCM under a key this phone made for it, generated
 * non-extractable and kept as a CryptoKey in IndexedDB (script can use it, nothing can read it
 * out). Only the client id and the time it was saved stay readable; a record is
 * {client_uuid, saved_at, iv, ct}. Without WebCrypto (a page not served over HTTPS) nothing is
 * kept on the phone: the form posts to the server as a plain form.
 */
(function () {
  "use strict";
  var DB = "minqing", STORE = "outbox", KEYS = "keys", SKEW_MS = 10 * 60 * 1000;
  var subtle = window.crypto && window.crypto.subtle;
  var form = document.getElementById("visit-form");
  var box = document.getElementById("outbox");
  var textsNode = document.getElementById("outbox-texts");
  var T = textsNode ? JSON.parse(textsNode.textContent) : {};
  var apiUrl = (box && box.dataset.api) || "/api/v1/visits/";
  var tokenUrl = (box && box.dataset.token) || "/visits/token/";
  var formUrl = (box && box.dataset.formUrl) || "/visits/new/";
  var queue = Promise.resolve();
  var lastNote = "";
  var confirming = null; // the client id whose "discard?" question is shown

  function fmt(text, values) {
    return String(text || "").replace(/%\((\w+)\)[ds]/g, function (m, k) {
      return values && values[k] !== undefined ? values[k] : m;
    });
  }

  /* ------------------------------------------------------------------ the service worker */
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/visits/sw.js", { scope: "/visits/" }).catch(function () {});
    var precache = box && box.dataset.precache ? JSON.parse(box.dataset.precache) : [];
    if (precache.length && navigator.onLine) {
      // Online and logged in (this page came from the server): keep my households and the
      // visit form of each of them for a farmyard with no network.
      navigator.serviceWorker.ready.then(function (reg) {
        if (reg.active) reg.active.postMessage({ type: "precache", urls: precache });
      }).catch(function () {});
    }
  }

  /* ------------------------------------------------------------------ IndexedDB */
  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 2);
      req.onupgradeneeded = function () {
        var db = req.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: "client_uuid" });
        if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS);
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function tx(mode, work, store) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store || STORE, mode);
        var result = work(t.objectStore(store || STORE));
        t.oncomplete = function () { db.close(); resolve(result && result.result !== undefined ? result.result : undefined); };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }

  /* The phone's key for the outbox: made once, never extractable (exportKey refuses it). */
  var keyPromise = null;
  function outboxKey() {
    if (!keyPromise) {
      keyPromise = tx("readonly", function (s) { return s.get("outbox"); }, KEYS).then(function (key) {
        if (key) return key;
        return subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"])
          .then(function (made) {
            // add(), not put(): a key another tab made first wins, and that one is used
            return tx("readwrite", function (s) { s.add(made, "outbox"); }, KEYS)
              .then(function () { return made; }, function () {
                return tx("readonly", function (s) { return s.get("outbox"); }, KEYS);
              });
          });
      });
      keyPromise.catch(function () { keyPromise = null; });
    }
    return keyPromise;
  }
  function seal(item) {
    var clear = {};
    Object.keys(item).forEach(function (k) { if (k !== "client_uuid") clear[k] = item[k]; });
    var iv = crypto.getRandomValues(new Uint8Array(12));
    return outboxKey().then(function (key) {
      var data = new TextEncoder().encode(JSON.stringify(clear));
      // the client id is bound to the ciphertext: a record cannot be moved under another id
      var aad = new TextEncoder().encode(item.client_uuid);
      return subtle.encrypt({ name: "AES-GCM", iv: iv, additionalData: aad }, key, data);
    }).then(function (ct) {
      return { client_uuid: item.client_uuid, saved_at: item.saved_at, iv: iv, ct: ct };
    });
  }
  function unseal(kept) {
    if (!kept) return Promise.resolve(kept);
    if (!kept.ct) return Promise.resolve(kept); // kept before records were sealed: sealed on next save
    return outboxKey().then(function (key) {
      var aad = new TextEncoder().encode(kept.client_uuid);
      return subtle.decrypt({ name: "AES-GCM", iv: kept.iv, additionalData: aad }, key, kept.ct);
    }).then(function (data) {
      var item = JSON.parse(new TextDecoder().decode(data));
      item.client_uuid = kept.client_uuid;
      return item;
    }, function () { // the key is gone (storage cleared in part): it can only be discarded
      return { client_uuid: kept.client_uuid, saved_at: kept.saved_at, state: "refused",
        unreadable: true, household_label: "—", reason: T.unreadable_here || "" };
    });
  }
  var all = function () {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (kept) {
      return Promise.all((kept || []).map(function (k) {
        // a record kept in the clear by an older version of this script is sealed now
        if (!k.ct) return seal(k).then(function (sealed) {
          return tx("readwrite", function (s) { s.put(sealed); }).then(function () { return k; });
        });
        return unseal(k);
      }));
    });
  };
  var get = function (id) {
    return tx("readonly", function (s) { return s.get(id); }).then(unseal);
  };
  // Sealed first, then written in a transaction of its own (an IndexedDB transaction ends
  // while WebCrypto works).
  var put = function (item) {
    return seal(item).then(function (sealed) { return tx("readwrite", function (s) { s.put(sealed); }); });
  };
  var drop = function (id) { return tx("readwrite", function (s) { s.delete(id); }); };

  function uuid4() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* ------------------------------------------------------------------ time on the phone */
  function p2(n) { return (n < 10 ? "0" : "") + n; }
  function localField(d) { // "YYYY-MM-DDTHH:MM" for <input type=datetime-local>
    return d.getFullYear() + "-" + p2(d.getMonth() + 1) + "-" + p2(d.getDate()) + "T" +
      p2(d.getHours()) + ":" + p2(d.getMinutes());
  }
  function isoWithOffset(d) { // ISO 8601 with the phone's UTC offset: 2026-12-01T20:15:00+08:00
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return localField(d) + ":" + p2(d.getSeconds()) + sign + p2(Math.floor(off / 60)) + ":" + p2(off % 60);
  }
  function fromField(value) { // the typed wall time, on the phone's clock and zone
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    return m ? new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]) : null;
  }
  function shownTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return (d.getMonth() + 1) + "/" + d.getDate() + " " + p2(d.getHours()) + ":" + p2(d.getMinutes());
  }

  /* ------------------------------------------------------------------ the outbox list */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function stateText(item) {
    if (item.state === "refused") return fmt(T.refused, { reason: item.reason || "" });
    if (item.state === "login") return item.reason || T.login || "";
    return item.reason || T.waiting || "";
  }
  function show(items, note) {
    if (!box) return;
    if (note !== undefined) lastNote = note;
    items = items.slice().sort(function (a, b) { return (a.saved_at || 0) - (b.saved_at || 0); });
    box.hidden = items.length === 0;
    box.querySelector("[data-outbox-count]").textContent = items.length + " " + (T.unsent || "");
    var noteEl = box.querySelector("[data-outbox-note]");
    noteEl.textContent = lastNote || "";
    noteEl.hidden = !lastNote || !items.length;
    var list = box.querySelector("[data-outbox-list]");
    list.textContent = "";
    items.forEach(function (item) {
      var li = el("li", item.state === "refused" ? "is-refused" : "");
      li.dataset.uuid = item.client_uuid;
      if (form && form.elements.client_uuid.value === item.client_uuid && opened) li.classList.add("is-open");
      var what = el("div", "outbox-what");
      what.appendChild(el("b", "", item.household_label || "#" + item.household));
      what.appendChild(el("span", "muted", shownTime(item.visited_at)));
      li.appendChild(what);
      li.appendChild(el("span", "outbox-state", stateText(item)));
      if (li.classList.contains("is-open")) li.appendChild(el("span", "muted", T.editing || ""));
      var actions = el("div", "outbox-actions");
      if (confirming === item.client_uuid) {
        li.appendChild(el("p", "outbox-confirm", T.confirm_discard || ""));
        var yes = el("button", "", T.discard_yes || "");
        yes.type = "button"; yes.dataset.act = "discard-yes";
        var no = el("button", "secondary", T.cancel || "");
        no.type = "button"; no.dataset.act = "discard-no";
        actions.appendChild(yes); actions.appendChild(no);
      } else {
        var openIt = null;
        if (li.classList.contains("is-open")) {
          // already in the form below
        } else if (form) {
          openIt = el("button", "secondary", T.open || "");
          openIt.type = "button"; openIt.dataset.act = "open";
        } else {
          openIt = el("a", "button secondary", T.open || "");
          openIt.href = formUrl + "?open=" + encodeURIComponent(item.client_uuid);
        }
        var again = el("button", "secondary", T.send_again || "");
        again.type = "button"; again.dataset.act = "send";
        var discard = el("button", "secondary", T.discard || "");
        discard.type = "button"; discard.dataset.act = "discard";
        if (openIt) actions.appendChild(openIt);
        actions.appendChild(again); actions.appendChild(discard);
      }
      li.appendChild(actions);
      list.appendChild(li);
    });
  }
  function refresh(note) {
    return all().then(function (items) {
      show(items, note);
      if (pending && !items.some(function (i) { return i.client_uuid === pending; })) {
        pending = null; // "saved on this phone" no longer holds: the server has it
        flash(T.sent, "");
      } else if (pending && items.some(function (i) { return i.client_uuid === pending && i.state === "refused"; })) {
        pending = null;
        flash(T.not_accepted, "error");
      }
    });
  }

  /* ------------------------------------------------------------------ sending */
  function sendable(item) { return item.state !== "refused" && !item.unreadable; }
  function refusal(status, answer) {
    if (status === 409) return { reason: T.conflict || "", conflict: true };
    if (status === 404) return { reason: T.not_found || "" };
    if (status === 400 && answer && answer.detail) return { reason: answer.detail, errors: answer.errors || {} };
    return { reason: T.unreadable || String(status) };
  }
  function post(item, csrf) {
    return fetch(apiUrl, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: body(item),
    });
  }
  function body(item) {
    var out = {};
    ["client_uuid", "household", "mode", "visited_at", "notes", "materials", "problems",
      "situation", "household_version", "companions", "night_plan"].forEach(function (k) {
      if (item[k] !== undefined) out[k] = item[k];
    });
    return JSON.stringify(out);
  }
  /* One run at a time (queued, never skipped): "only" sends that one record, whatever its
   * state (the user asked); otherwise every record that is not waiting for the user. */
  function send(only) {
    var run = queue.then(function () { return sendNow(only); });
    queue = run.catch(function () {});
    return run;
  }
  function sendNow(only) {
    var note = "";
    return all().then(function (items) {
      var todo = items.filter(function (i) {
        return only ? i.client_uuid === only && !i.unreadable : sendable(i);
      });
      if (!todo.length) return;
      if (!navigator.onLine) { note = T.offline || ""; return; }
      return fetch(tokenUrl, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
        .then(function (res) {
          if (!res.ok) { note = T.login || ""; return; }
          return res.json().then(function (t) {
            return todo.reduce(function (chain, item) {
              return chain.then(function (go) {
                if (go === false) return false;
                if (item.user && item.user !== t.user) {
                  // A shared phone: a visit goes to the server only under the account that
                  // recorded it (the server would take the session's user as the visitor).
                  item.state = "login"; item.reason = T.other || "";
                  return put(item);
                }
                return post(item, t.csrf).then(function (res) {
                  if (res.status === 200 || res.status === 201) return drop(item.client_uuid);
                  if (res.status === 401 || res.status === 403) {
                    note = T.login || "";
                    item.state = "login"; item.reason = T.login || "";
                    return put(item).then(function () { return false; });
                  }
                  if (res.status >= 500) {
                    item.state = "waiting"; item.reason = T.server || "";
                    return put(item);
                  }
                  return res.json().catch(function () { return {}; }).then(function (answer) {
                    var why = refusal(res.status, answer);
                    item.state = "refused"; item.reason = why.reason;
                    item.errors = why.errors || {}; item.conflict = !!why.conflict;
                    return put(item);
                  });
                }, function () { note = T.offline || ""; return false; });
              });
            }, Promise.resolve(true));
          });
        }, function () { note = T.offline || ""; });
    }).then(function () { return refresh(note); }, function () { return refresh(note); });
  }

  /* ------------------------------------------------------------------ the list's buttons */
  if (box) {
    box.querySelector("[data-outbox-send]").addEventListener("click", function () { send(); });
    box.querySelector("[data-outbox-list]").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-act]");
      if (!button) return;
      var id = button.closest("li").dataset.uuid;
      var act = button.dataset.act;
      if (act === "discard") { confirming = id; refresh(); return; }
      if (act === "discard-no") { confirming = null; refresh(); return; }
      if (act === "discard-yes") {
        confirming = null;
        drop(id).then(function () {
          if (form && opened && form.elements.client_uuid.value === id) newForm();
          flash(T.discarded, "");
          return refresh();
        });
        return;
      }
      if (act === "send") { // as it is, once, because the user asked (a refused one too)
        button.disabled = true; button.textContent = T.sending || "";
        send(id);
        return;
      }
      if (act === "open") get(id).then(function (item) { if (item && !item.unreadable) load(item); });
    });
  }

  /* ------------------------------------------------------------------ the form */
  var opened = null; // the kept record the form holds (opened from the list), if any
  var timeAuto = true; // the time field was not changed: the visit is dated on "save"
  var dirty = false;
  var busy = false;
  var pending = null; // the record the "saved on this phone" message is about

  function flash(text, kind) {
    if (kind !== "wait") pending = null;
    var saved = document.getElementById("outbox-saved");
    if (!saved) return;
    saved.textContent = text || "";
    saved.className = "messages-inline" + (kind ? " is-" + kind : "");
    saved.hidden = !text;
  }
  function counters() {
    form.querySelectorAll("[data-limit]").forEach(function (field) {
      var counter = field.nextElementSibling && field.nextElementSibling.classList.contains("counter")
        ? field.nextElementSibling : null;
      if (!counter) {
        counter = el("span", "counter");
        counter.setAttribute("aria-live", "polite");
        field.parentNode.insertBefore(counter, field.nextSibling);
      }
      var limit = parseInt(field.dataset.limit, 10), n = field.value.trim().length;
      counter.textContent = n + " / " + limit;
      counter.classList.toggle("over", n > limit);
    });
  }
  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (f) { f.removeAttribute("aria-invalid"); });
    var top = document.getElementById("form-errors");
    top.hidden = true; top.textContent = "";
  }
  function fieldFor(key) {
    var f = form.elements;
    if (key === "visited_at") return f.visited_at;
    if (key === "household" || key === "notes" || key === "materials" || key === "situation") return f[key];
    var m = /^problems\.(\d)$/.exec(key);
    if (m) return f["p" + m[1] + "_description"];
    return null;
  }
  /* errors: {field: message or [messages]} — beside each field, and listed on top. */
  function showErrors(errors) {
    clearErrors();
    var top = document.getElementById("form-errors");
    var first = null;
    Object.keys(errors).forEach(function (key) {
      var msg = [].concat(errors[key]).join(" ");
      var slot = form.querySelector('[data-error-for="' + key + '"]');
      if (!slot && /^problems\./.test(key)) slot = form.querySelector('[data-error-for="problems.1"]');
      top.appendChild(el("li", "", msg));
      if (slot) {
        slot.textContent = msg; slot.hidden = false;
        var details = slot.closest("details");
        if (details) details.open = true;
        first = first || slot;
      }
      var field = fieldFor(key);
      if (field) field.setAttribute("aria-invalid", "true");
    });
    top.hidden = !top.children.length;
    (first || top).scrollIntoView({ block: "center" });
  }

  function check() {
    var f = form.elements, errors = {};
    if (!f.household.value) errors.household = T.household;
    var when = timeAuto ? new Date() : fromField(f.visited_at.value);
    if (!when) {
      errors.visited_at = T.time_missing;
    } else if (when.getTime() > Date.now() + SKEW_MS) {
      errors.visited_at = T.future;
    } else {
      var days = parseInt(form.dataset.lookback || "0", 10);
      var today = new Date(); today.setHours(0, 0, 0, 0);
      var earliest = new Date(today.getFullYear(), today.getMonth(), today.getDate() - days);
      if (days && when < earliest) {
        var date = earliest.getFullYear() + "-" + p2(earliest.getMonth() + 1) + "-" + p2(earliest.getDate());
        errors.visited_at = fmt(T.too_old, { date: date, days: days });
      }
    }
    form.querySelectorAll("[data-limit]").forEach(function (field) {
      var limit = parseInt(field.dataset.limit, 10), n = field.value.trim().length;
      if (n > limit) {
        var m = /^p(\d)_/.exec(field.name);
        var key = m ? "problems." + m[1] : field.name;
        errors[key] = fmt(T.too_long, { n: limit, count: n });
      }
    });
    for (var i = 1; i <= 3; i++) {
      var key = "problems." + i;
      if (errors[key]) continue;
      var colour = form.querySelector("input[name=p" + i + "_colour]:checked");
      var description = f["p" + i + "_description"].value.trim();
      var resolution = f["p" + i + "_resolution"].value.trim();
      if (!colour && !description && !resolution) continue;
      if (!colour) errors[key] = fmt(T.colour, { n: i });
      else if (!description) errors[key] = fmt(T.describe, { n: i });
      else if (colour.value === "green" && !resolution) errors[key] = fmt(T.resolution, { n: i });
    }
    return Object.keys(errors).length ? errors : null;
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
    var when = timeAuto ? new Date() : fromField(f.visited_at.value);
    return {
      user: parseInt(form.dataset.user, 10),
      client_uuid: f.client_uuid.value,
      household: parseInt(f.household.value, 10),
      household_label: option ? option.textContent : "",
      mode: mode ? mode.value : "home",
      visited_at: isoWithOffset(when),
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
      state: "waiting",
      saved_at: opened && opened.saved_at ? opened.saved_at : Date.now(),
    };
  }

  function setTimeNow() { form.elements.visited_at.value = localField(new Date()); }

  /* A fresh form for the next visit (a new client id; the time follows the clock). */
  function newForm() {
    form.reset();
    clearErrors();
    form.elements.client_uuid.value = uuid4();
    form.elements.household.value = ""; // the next visit is to another household
    form.elements.night.value = ""; // and no stop of the night visit
    var home = form.querySelector("input[name=mode][value=home]");
    if (home) home.checked = true;
    form.querySelectorAll("details").forEach(function (d) { d.open = false; });
    opened = null; timeAuto = true; dirty = false;
    setTimeNow();
    counters();
  }

  /* Put a kept record in the form to correct it; its reason is shown where the eye is. */
  function load(item) {
    if (dirty && !opened && !window.confirm(T.replace_draft || "")) return;
    newForm();
    var f = form.elements;
    if (!f.household.querySelector('option[value="' + item.household + '"]')) {
      var option = el("option", "", item.household_label || "#" + item.household);
      option.value = String(item.household);
      f.household.appendChild(option);
    }
    f.household.value = String(item.household);
    var mode = form.querySelector('input[name=mode][value="' + item.mode + '"]');
    if (mode) mode.checked = true;
    f.notes.value = item.notes || "";
    f.materials.value = item.materials || "";
    f.situation.value = item.situation || "";
    f.night.value = item.night_plan ? String(item.night_plan) : "";
    form.querySelectorAll("input[name=companions]").forEach(function (c) {
      c.checked = (item.companions || []).indexOf(parseInt(c.value, 10)) >= 0;
    });
    (item.problems || []).forEach(function (p, index) {
      var i = index + 1;
      if (i > 3) return;
      var colour = form.querySelector('input[name=p' + i + '_colour][value="' + p.colour + '"]');
      if (colour) colour.checked = true;
      f["p" + i + "_description"].value = p.description || "";
      f["p" + i + "_resolution"].value = p.resolution || "";
      f["p" + i + "_category"].value = p.category || "";
      form.querySelector('details[data-problem="' + i + '"]').open = true;
    });
    var when = new Date(item.visited_at);
    f.visited_at.value = isNaN(when) ? "" : localField(when);
    timeAuto = false; // a kept record keeps its time
    f.client_uuid.value = item.client_uuid;
    opened = item;
    counters();
    if (item.state === "refused") {
      showErrors(refusedErrors(item));
    }
    refresh();
  }

  /* The server's reasons beside their fields; one without a field is listed on top. */
  function refusedErrors(item) {
    if (item.errors && Object.keys(item.errors).length) return item.errors;
    return { __all__: fmt(T.refused, { reason: item.reason || "" }) };
  }

  function setBusy(on) {
    busy = on;
    var button = form.querySelector("button[type=submit]");
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
    button.textContent = on ? (T.wait || "…") : button.dataset.label;
  }

  if (form) {
    var params = new URLSearchParams(location.search);
    // A fresh id for every form shown: the page itself may be a copy the service worker kept.
    form.elements.client_uuid.value = uuid4();
    // The address says which household and night visit (a kept copy may have been another's).
    var wanted = params.get("household");
    if (wanted && form.elements.household.querySelector('option[value="' + wanted + '"]')) {
      form.elements.household.value = wanted;
    }
    var night = params.get("night");
    form.elements.night.value = night && /^\d+$/.test(night) ? night : "";
    if (form.elements.night.value) {
      var nightMode = form.querySelector("input[name=mode][value=night]");
      if (nightMode) nightMode.checked = true;
    }
    setTimeNow();
    var hint = form.querySelector("[data-time-hint]");
    if (hint) hint.hidden = false;
    counters();
    form.elements.visited_at.addEventListener("input", function () { timeAuto = false; });
    form.elements.visited_at.addEventListener("change", function () { timeAuto = false; });
    form.addEventListener("input", function (event) {
      dirty = true;
      if (event.target.dataset && event.target.dataset.limit) counters();
    });
    setInterval(function () { if (timeAuto && !busy) setTimeNow(); }, 30000);
    if (params.get("open") && subtle) {
      get(params.get("open")).then(function (item) { if (item && !item.unreadable) load(item); });
    }

    form.addEventListener("submit", function (event) {
      // no outbox (no IndexedDB, or no WebCrypto to seal it): the plain form post still works
      if (!window.indexedDB || !subtle) return;
      event.preventDefault();
      if (busy) return; // a second tap while the first is on its way
      var errors = check();
      if (errors) { flash(T.fix_first, "error"); showErrors(errors); return; }
      clearErrors();
      setBusy(true);
      flash(T.wait, "wait");
      var item = record();
      var before = opened;
      var renamed = before && before.conflict; // that id is taken on the server: a new record
      if (renamed) item.client_uuid = uuid4();
      put(item)
        .then(function () { return renamed ? drop(before.client_uuid) : null; })
        .then(function () { return send(item.client_uuid); })
        .then(function () { return get(item.client_uuid); })
        .then(function (left) {
          if (!left) { // the server has it
            newForm();
            flash(T.sent, "");
            window.scrollTo(0, 0);
          } else if (left.state === "refused") { // kept, in the form, with the reason
            form.elements.client_uuid.value = left.client_uuid;
            opened = left; timeAuto = false;
            form.elements.visited_at.value = localField(new Date(left.visited_at));
            flash(T.not_accepted, "error");
            showErrors(refusedErrors(left));
          } else { // safe on the phone; the form is free for the next visit
            newForm();
            flash(T.saved + (left.state === "login" ? " " + (left.reason || "") : ""), "wait");
            pending = left.client_uuid;
            window.scrollTo(0, 0);
          }
          return refresh();
        })
        .catch(function () { flash(T.fix_first, "error"); })
        .then(function () { setBusy(false); });
    });
  }
  if (!window.indexedDB || !subtle) return;
  window.addEventListener("online", function () { send(); });
  setInterval(function () { send(); }, 30000);
  if (box) send();
})();
