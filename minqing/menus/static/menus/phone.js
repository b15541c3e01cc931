/* Minqing quarterly menu on the phone: the household's form and the outbox of its records.
 *
 * The design of the visit diary's outbox (minqing/visits/static/visits/outbox.js): one client
 * id (client_uuid) per record, made when the form opens and kept until the server has it; a
 * record is put in the outbox first, then sent; it leaves the outbox only when the server
 * answers "saved" or "replay" (already saved: nothing changed).
 *
 * Two kinds of record: "answer" (a household's answers, or why nobody was reached) posted in
 * batches to /api/v1/menus/answers/, and "call" (one phone try) posted to
 * /api/v1/menus/calls/. States of a kept record:
 *   waiting  no connection, a lost answer, a server error: tried again ("online", page load,
 *            every 30 s, "Send now");
 *   login    the session ended, or the record belongs to another account;
 *   refused  the server said no: it waits for the user, with the reasons next to the
 *            questions — open and correct it, send it again as it is, or discard it.
 *
 * At rest a kept record is ciphertext: AES-GCM under a key this phone made, generated
 * non-extractable and kept as a CryptoKey in IndexedDB ("minqing-menus": the visit outbox has
 * its own database, "minqing"; the logout guard in visits/phone.js counts both). Only the
 * client id and the time it was saved stay readable.
 *
 * The form is drawn from the version's JSON (json_script "menu-version"): the questions of the
 * household's version (urban or rural) by theme, skip logic by MinqingLogic.evaluate
 * (logic.js, the rules of the server's checker), constraints checked before the record is
 * queued; the server checks again.
 */
(function () {
  "use strict";
  var DB = "minqing-menus", STORE = "outbox", KEYS = "keys", SKEW_MS = 10 * 60 * 1000;
  var subtle = window.crypto && window.crypto.subtle;
  var box = document.getElementById("menu-outbox");
  if (!box) return;
  function json(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  var T = json("menu-texts") || {};
  var RESULTS = json("menu-call-results") || {};
  var V = json("menu-version");
  var TASK = json("menu-task");
  var form = document.getElementById("menu-form");
  var tasksUrl = box.dataset.tasksUrl || "/menus/tasks/";
  var BATCH = parseInt(box.dataset.batch || "200", 10);
  var me = parseInt(box.dataset.user || "0", 10);
  var queue = Promise.resolve();
  var sentHere = {}; // tasks whose answers this page sent (the list shows them sent)
  var lastNote = "";
  var confirming = null;

  function fmt(text, values) {
    return String(text || "").replace(/%\((\w+)\)[ds]/g, function (m, k) {
      return values && values[k] !== undefined ? values[k] : m;
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* ------------------------------------------------------------------ the service worker */
  if ("serviceWorker" in navigator && box.dataset.sw) {
    navigator.serviceWorker.register(box.dataset.sw).catch(function () {});
    var precache = JSON.parse(box.dataset.precache || "[]");
    if (precache.length && navigator.onLine) {
      // Online and logged in: keep the task list and the form of each of my open tasks.
      navigator.serviceWorker.addEventListener("message", function (event) {
        if (event.data && event.data.type === "precached") box.dataset.precached = String(event.data.count);
      });
      navigator.serviceWorker.ready.then(function (reg) {
        if (reg.active) reg.active.postMessage({ type: "precache", urls: precache });
      }).catch(function () {});
    }
  }

  /* ------------------------------------------------------------------ IndexedDB, sealed */
  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
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
  var keyPromise = null;
  function outboxKey() {
    if (!keyPromise) {
      keyPromise = tx("readonly", function (s) { return s.get("outbox"); }, KEYS).then(function (key) {
        if (key) return key;
        return subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"])
          .then(function (made) {
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
      var aad = new TextEncoder().encode(item.client_uuid); // bound to its id
      return subtle.encrypt({ name: "AES-GCM", iv: iv, additionalData: aad }, key, data);
    }).then(function (ct) {
      return { client_uuid: item.client_uuid, saved_at: item.saved_at, iv: iv, ct: ct };
    });
  }
  function unseal(kept) {
    if (!kept) return Promise.resolve(kept);
    return outboxKey().then(function (key) {
      var aad = new TextEncoder().encode(kept.client_uuid);
      return subtle.decrypt({ name: "AES-GCM", iv: kept.iv, additionalData: aad }, key, kept.ct);
    }).then(function (data) {
      var item = JSON.parse(new TextDecoder().decode(data));
      item.client_uuid = kept.client_uuid;
      return item;
    }, function () { // the key is gone: it can only be discarded
      return { client_uuid: kept.client_uuid, saved_at: kept.saved_at, state: "refused",
        unreadable: true, task_label: "—", note: T.unreadable_here || "" };
    });
  }
  function all() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (kept) {
      return Promise.all((kept || []).map(unseal));
    });
  }
  function get(id) { return tx("readonly", function (s) { return s.get(id); }).then(unseal); }
  function put(item) {
    return seal(item).then(function (sealed) { return tx("readwrite", function (s) { s.put(sealed); }); });
  }
  function drop(id) { return tx("readwrite", function (s) { s.delete(id); }); }

  function uuid4() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function p2(n) { return (n < 10 ? "0" : "") + n; }
  function isoWithOffset(d) { // 2027-02-22T09:55:00+08:00: the phone's time and zone
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return d.getFullYear() + "-" + p2(d.getMonth() + 1) + "-" + p2(d.getDate()) + "T" +
      p2(d.getHours()) + ":" + p2(d.getMinutes()) + ":" + p2(d.getSeconds()) +
      sign + p2(Math.floor(off / 60)) + ":" + p2(off % 60);
  }
  function shownTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return (d.getMonth() + 1) + "/" + d.getDate() + " " + p2(d.getHours()) + ":" + p2(d.getMinutes());
  }

  /* ------------------------------------------------------------------ the outbox list */
  function stateText(item) {
    if (item.state === "refused") return fmt(T.refused, { reason: item.note || "" });
    if (item.state === "login") return item.note || T.login || "";
    return item.note || T.waiting || "";
  }
  function taskUrl(task) { return tasksUrl + task + "/"; }
  function show(items, note) {
    if (note !== undefined) lastNote = note;
    items = items.slice().sort(function (a, b) { return (a.saved_at || 0) - (b.saved_at || 0); });
    box.hidden = items.length === 0;
    box.querySelector("[data-outbox-count]").textContent =
      fmt(items.length === 1 ? T.unsent_one : T.unsent, { count: items.length });
    var noteEl = box.querySelector("[data-outbox-note]");
    noteEl.textContent = lastNote || "";
    noteEl.hidden = !lastNote || !items.length;
    var list = box.querySelector("[data-outbox-list]");
    list.textContent = "";
    items.forEach(function (item) {
      var li = el("li", item.state === "refused" ? "is-refused" : "is-" + (item.state || "waiting"));
      li.dataset.uuid = item.client_uuid;
      li.dataset.kind = item.kind || "";
      var here = form && opened && opened.client_uuid === item.client_uuid;
      if (here) li.classList.add("is-open");
      var what = el("div", "outbox-what");
      what.appendChild(el("b", "", item.task_label || "#" + item.task));
      what.appendChild(el("span", "", item.kind === "call"
        ? fmt(T.call, { result: RESULTS[item.result] || item.result }) : T.answers || ""));
      what.appendChild(el("span", "muted", shownTime(item.kind === "call" ? item.at : item.finished_at)));
      li.appendChild(what);
      li.appendChild(el("span", "outbox-state", stateText(item)));
      var actions = el("div", "outbox-actions");
      if (confirming === item.client_uuid) {
        li.appendChild(el("p", "outbox-confirm", T.confirm_discard || ""));
        var yes = el("button", "", T.discard_yes || "");
        yes.type = "button"; yes.dataset.act = "discard-yes";
        var no = el("button", "secondary", T.cancel || "");
        no.type = "button"; no.dataset.act = "discard-no";
        actions.appendChild(yes); actions.appendChild(no);
      } else {
        if (item.kind === "answer" && !item.unreadable && !here) {
          var openIt;
          if (form && TASK && item.task === TASK.task) {
            openIt = el("button", "secondary", T.open || "");
            openIt.type = "button"; openIt.dataset.act = "open";
          } else {
            openIt = el("a", "button secondary", T.open || "");
            openIt.href = taskUrl(item.task) + "?open=" + encodeURIComponent(item.client_uuid);
          }
          actions.appendChild(openIt);
        }
        if (!item.unreadable) {
          var again = el("button", "secondary", T.send_again || "");
          again.type = "button"; again.dataset.act = "send";
          actions.appendChild(again);
        }
        var discard = el("button", "secondary", T.discard || "");
        discard.type = "button"; discard.dataset.act = "discard";
        actions.appendChild(discard);
      }
      li.appendChild(actions);
      list.appendChild(li);
    });
    // The task list marks the households whose answers wait on this phone.
    document.querySelectorAll("li[data-task]").forEach(function (row) {
      var kept = items.some(function (i) { return i.kind === "answer" && String(i.task) === row.dataset.task; });
      var sent = !kept && sentHere[row.dataset.task];
      var tag = row.querySelector("[data-task-state]"), todo = row.querySelector("[data-task-todo]");
      if (tag) {
        tag.hidden = !kept && !sent;
        tag.textContent = sent ? T.sent_row || "" : T.on_phone || "";
        tag.classList.toggle("is-sent", !!sent);
      }
      if (todo) todo.hidden = kept || sent;
    });
    if (form && TASK) calls(items);
  }
  function refresh(note) { return all().then(function (items) { show(items, note); return items; }); }

  /* ------------------------------------------------------------------ sending */
  function sendable(item) { return item.state !== "refused" && !item.unreadable; }
  function post(url, data, csrf) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(data),
    });
  }
  function body(item) {
    if (item.kind === "call") {
      return { client_uuid: item.client_uuid, task: item.task, at: item.at, result: item.result };
    }
    return {
      client_uuid: item.client_uuid, task: item.task, version: item.version, outcome: item.outcome,
      reason: item.reason || "", answers: item.answers || {}, started_at: item.started_at || null,
      finished_at: item.finished_at,
    };
  }
  function errorsText(errors) {
    return Object.keys(errors || {}).map(function (k) { return [].concat(errors[k]).join(" "); }).join(" ");
  }
  /* The server's answer for one record: gone when saved, else kept with the reasons. */
  function apply(item, result) {
    if (result.status === "saved" || result.status === "replay") {
      if (item.kind !== "call") sentHere[item.task] = true;
      if (item.kind === "call" && TASK && item.task === TASK.task && result.status === "saved") sentCalls += 1;
      return drop(item.client_uuid);
    }
    item.state = "refused";
    item.errors = result.errors || {};
    item.conflict = result.status === "conflict" && !!item.errors.client_uuid;
    if (result.status === "not_found") item.note = T.not_found || "";
    else if (item.conflict) item.note = T.conflict || "";
    else item.note = errorsText(item.errors) || T.unreadable || "";
    return put(item);
  }
  function answered(res, items) {
    if (res.status === 200) {
      return res.json().then(function (answer) {
        var results = [].concat(answer);
        return items.reduce(function (chain, item, i) {
          return chain.then(function () { return results[i] ? apply(item, results[i]) : null; });
        }, Promise.resolve(true));
      });
    }
    if (res.status === 401 || res.status === 403) {
      return Promise.all(items.map(function (item) {
        item.state = "login"; item.note = T.login || ""; return put(item);
      })).then(function () { return false; });
    }
    if (res.status >= 500 || res.status === 429) {
      return Promise.all(items.map(function (item) {
        item.state = "waiting"; item.note = T.server || ""; return put(item);
      }));
    }
    return res.json().catch(function () { return {}; }).then(function (answer) {
      // 400 for the whole post (a record the API could not read): each keeps its own fields
      return Promise.all(items.map(function (item, i) {
        var mine = {}, prefix = "records." + i + ".";
        Object.keys(answer.errors || {}).forEach(function (k) {
          if (k.indexOf(prefix) === 0) mine[k.slice(prefix.length)] = answer.errors[k];
        });
        item.state = "refused"; item.errors = mine;
        item.note = errorsText(mine) || answer.detail || T.unreadable || "";
        return put(item);
      }));
    });
  }
  /* One run at a time: "only" sends that record whatever its state (the user asked);
   * otherwise every record not waiting for the user. Phone tries go before answers. */
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
      return fetch(box.dataset.token, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
        .then(function (res) {
          if (!res.ok) { note = T.login || ""; return; }
          return res.json().then(function (t) {
            var mine = [], others = [];
            todo.forEach(function (i) { (i.user && i.user !== t.user ? others : mine).push(i); });
            var chain = Promise.all(others.map(function (item) {
              // a shared phone: a record goes only under the account that made it
              item.state = "login"; item.note = T.other || ""; return put(item);
            })).then(function () { return true; });
            var tries = mine.filter(function (i) { return i.kind === "call"; })
              .sort(function (a, b) { return (a.saved_at || 0) - (b.saved_at || 0); });
            var records = mine.filter(function (i) { return i.kind !== "call"; });
            tries.forEach(function (item) {
              chain = chain.then(function (go) {
                if (go === false) return false;
                return post(box.dataset.callsApi, body(item), t.csrf)
                  .then(function (res) { return answered(res, [item]); });
              });
            });
            for (var start = 0; start < records.length; start += BATCH) {
              (function (chunk) {
                chain = chain.then(function (go) {
                  if (go === false) return false;
                  return post(box.dataset.answersApi, { records: chunk.map(body) }, t.csrf)
                    .then(function (res) { return answered(res, chunk); });
                });
              })(records.slice(start, start + BATCH));
            }
            return chain.then(null, function () { note = T.offline || ""; });
          });
        }, function () { note = T.offline || ""; });
    }).then(function () { return refresh(note); }, function () { return refresh(note); });
  }

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
        if (form && opened && opened.client_uuid === id) newRecord();
        flash(T.discarded, "");
        return refresh();
      });
      return;
    }
    if (act === "send") {
      button.disabled = true; button.textContent = T.sending || "";
      send(id);
      return;
    }
    if (act === "open") get(id).then(function (item) { if (item && !item.unreadable) load(item); });
  });

  function flash(text, kind) {
    var saved = document.getElementById("outbox-saved");
    if (!saved) return;
    saved.textContent = text || "";
    saved.className = "messages-inline" + (kind ? " is-" + kind : "");
    saved.hidden = !text;
  }

  /* ------------------------------------------------------------------ the form */
  var opened = null; // the kept record the form holds, if any
  var startedAt = isoWithOffset(new Date()); // the form opened
  var sentCalls = 0; // phone tries of this household the server took since the page loaded
  var busy = false;
  var questions = [];
  var limit = 500;

  function questionList() {
    var out = [];
    (V && V.themes || []).forEach(function (theme) { theme.questions.forEach(function (q) { out.push(q); }); });
    return out;
  }
  function draw() {
    var holder = document.getElementById("menu-questions");
    limit = parseInt(holder.dataset.textLimit || "500", 10);
    V.themes.forEach(function (theme) {
      var section = el("section", "card menu-theme");
      if (theme.title) section.appendChild(el("h2", "", theme.title));
      theme.questions.forEach(function (q) {
        var wrap = el("div", "menu-q menu-q-" + q.type);
        wrap.dataset.q = q.name;
        var id = "q-" + q.name;
        var choices = q.choices && q.choices.length;
        var title = el(choices ? "p" : "label", "menu-q-label", q.label);
        if (!choices) title.htmlFor = id;
        if (q.required) title.appendChild(el("span", "menu-required", " *"));
        wrap.appendChild(title);
        if (q.hint) wrap.appendChild(el("p", "muted", q.hint));
        if (q.note) wrap.appendChild(el("p", "menu-visitor-note", q.note));
        if (choices) {
          var group = el("fieldset", "picks menu-choices");
          group.setAttribute("aria-label", q.label);
          q.choices.forEach(function (c, i) {
            var label = el("label", "pick");
            var input = el("input");
            input.type = q.type === "select_multiple" ? "checkbox" : "radio";
            input.name = id; input.value = c[0]; input.id = id + "-" + i;
            label.appendChild(input);
            label.appendChild(el("span", "", c[1]));
            group.appendChild(label);
          });
          wrap.appendChild(group);
        } else if (q.type === "text") {
          var area = el("textarea");
          area.id = id; area.name = id; area.rows = 2;
          wrap.appendChild(area);
        } else if (q.type === "integer" || q.type === "decimal") {
          var input = el("input");
          input.id = id; input.name = id; input.type = "text";
          input.inputMode = q.type === "integer" ? "numeric" : "decimal";
          input.autocomplete = "off";
          wrap.appendChild(input);
        }
        var error = el("p", "field-error");
        error.dataset.errorFor = "answers." + q.name; error.hidden = true;
        wrap.appendChild(error);
        section.appendChild(wrap);
      });
      holder.appendChild(section);
    });
    questions = questionList();
  }
  function fieldsOf(q) { return form.querySelectorAll('[name="q-' + q.name + '"]'); }
  /* The raw value of a question as typed: undefined when unanswered. */
  function raw(q) {
    var fields = fieldsOf(q);
    if (!fields.length) return undefined;
    if (q.type === "select_multiple") {
      var picked = Array.prototype.filter.call(fields, function (f) { return f.checked; })
        .map(function (f) { return f.value; });
      return picked.length ? picked : undefined;
    }
    if (q.choices && q.choices.length) {
      var chosen = Array.prototype.filter.call(fields, function (f) { return f.checked; })[0];
      return chosen ? chosen.value : undefined;
    }
    var text = fields[0].value.trim();
    return text === "" ? undefined : text;
  }
  /* The answers as the server will see them (a skipped question has none) and what is wrong:
   * the rules of minqing.menus.checks, in the same order. */
  function evaluateForm(showAll) {
    var seen = {}, errors = {};
    questions.forEach(function (q) {
      var wrap = form.querySelector('[data-q="' + q.name + '"]');
      var asked = !q.relevant || window.MinqingLogic.evaluate(q.relevant, seen);
      wrap.hidden = !asked;
      if (!asked || q.type === "note") return;
      var v = raw(q);
      if (v === undefined) {
        if (q.required) errors["answers." + q.name] = T.required;
        return;
      }
      if (q.type === "integer") {
        if (!/^-?\d+$/.test(v)) { errors["answers." + q.name] = T.integer; return; }
        v = parseInt(v, 10);
      } else if (q.type === "decimal") {
        if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(v)) { errors["answers." + q.name] = T.number; return; }
      } else if (q.type === "text" && v.length > limit) {
        errors["answers." + q.name] = fmt(T.too_long, { n: limit, count: v.length });
        return;
      }
      if (q.constraint && !window.MinqingLogic.evaluate(q.constraint, seen, v)) {
        errors["answers." + q.name] = q.message || T.invalid;
      }
      seen[q.name] = v;
    });
    return { answers: seen, errors: showAll ? errors : {} };
  }
  function outcome() {
    var o = form.querySelector("input[name=outcome]:checked");
    return o ? o.value : "";
  }
  function reason() {
    var r = form.querySelector("input[name=reason]:checked");
    return r ? r.value : "";
  }
  function layout() {
    var o = outcome();
    document.getElementById("menu-calls").hidden = o !== "phone";
    document.getElementById("menu-reason").hidden = o !== "not_reached";
    document.getElementById("menu-questions").hidden = o === "not_reached";
  }
  function check() {
    var o = outcome(), errors = {};
    if (!o) errors.outcome = T.outcome;
    else if (o === "not_reached") { if (!reason()) errors.reason = T.reason; }
    else errors = evaluateForm(true).errors;
    return Object.keys(errors).length ? errors : null;
  }
  function record() {
    var o = outcome();
    return {
      kind: "answer",
      user: me,
      client_uuid: form.elements.client_uuid.value,
      task: TASK.task,
      task_label: TASK.label,
      version: V.version,
      outcome: o,
      reason: o === "not_reached" ? reason() : "",
      answers: o === "not_reached" ? {} : evaluateForm(false).answers,
      started_at: startedAt,
      finished_at: isoWithOffset(new Date()),
      state: "waiting",
      saved_at: opened && opened.saved_at ? opened.saved_at : Date.now(),
    };
  }
  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (f) { f.removeAttribute("aria-invalid"); });
    var top = document.getElementById("form-errors");
    top.hidden = true; top.textContent = "";
  }
  /* errors: {field or answers.NAME: message} — beside each, and listed on top. */
  function showErrors(errors) {
    clearErrors();
    var top = document.getElementById("form-errors"), first = null;
    Object.keys(errors).forEach(function (key) {
      var msg = [].concat(errors[key]).join(" ");
      var slot = form.querySelector('[data-error-for="' + key + '"]');
      var q = /^answers\.(.+)$/.exec(key);
      var label = q ? form.querySelector('[data-q="' + q[1] + '"] .menu-q-label') : null;
      // a question the form no longer has (the household's version changed) is named
      var who = label ? label.firstChild.textContent : q ? q[1] : "";
      top.appendChild(el("li", "", who ? who + "：" + msg : msg));
      if (slot) {
        slot.textContent = msg; slot.hidden = false;
        var wrap = slot.closest("[data-q]");
        if (wrap) {
          wrap.hidden = false;
          fieldsOf({ name: wrap.dataset.q }).forEach(function (f) { f.setAttribute("aria-invalid", "true"); });
        }
        first = first || slot;
      }
    });
    top.hidden = !top.children.length;
    (first || top).scrollIntoView({ block: "center" });
  }
  function newRecord() {
    form.reset();
    clearErrors();
    form.elements.client_uuid.value = uuid4();
    opened = null;
    startedAt = isoWithOffset(new Date());
    evaluateForm(false); layout();
  }
  /* Put a kept record in the form to correct it; its reasons beside the questions. */
  function load(item) {
    form.reset();
    form.elements.client_uuid.value = item.client_uuid;
    var o = form.querySelector('input[name=outcome][value="' + item.outcome + '"]');
    if (o) o.checked = true;
    var r = form.querySelector('input[name=reason][value="' + item.reason + '"]');
    if (r) r.checked = true;
    questions.forEach(function (q) {
      var v = (item.answers || {})[q.name];
      if (v === undefined) return;
      fieldsOf(q).forEach(function (f) {
        if (f.type === "radio" || f.type === "checkbox") f.checked = [].concat(v).indexOf(f.value) >= 0;
        else f.value = String(v);
      });
    });
    startedAt = item.started_at || startedAt;
    opened = item;
    evaluateForm(false); layout();
    if (item.state === "refused") {
      showErrors(item.errors && Object.keys(item.errors).length ? item.errors : { __all__: stateText(item) });
    } else {
      clearErrors();
      flash(T.kept_here, "wait");
    }
    refresh();
  }
  function setBusy(on) {
    busy = on;
    var button = form.querySelector("button[type=submit]");
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.disabled = on;
    button.textContent = on ? (T.wait || "…") : button.dataset.label;
  }
  /* Phone tries: those the page knew, those the server took since, those still on the phone. */
  function calls(items) {
    var kept = items.filter(function (i) { return i.kind === "call" && i.task === TASK.task && i.state !== "refused"; });
    var n = TASK.call_attempts + sentCalls + kept.length;
    var full = n >= TASK.call_limit;
    var count = form.querySelector("[data-calls-count]");
    count.textContent = full ? fmt(T.tries_full, { n: n }) : fmt(T.tries, { n: n, limit: TASK.call_limit });
    count.className = full ? "field-error" : "";
    form.querySelectorAll("button[data-call]").forEach(function (b) { b.disabled = full; });
    return full;
  }

  if (form && V && TASK && window.indexedDB && subtle && window.MinqingLogic) {
    draw();
    form.hidden = false;
    form.elements.client_uuid.value = uuid4();
    evaluateForm(false); layout();
    form.addEventListener("change", function (event) {
      if (event.target.name === "outcome") layout();
      evaluateForm(false);
    });
    form.addEventListener("input", function () { evaluateForm(false); });
    form.querySelectorAll("button[data-call]").forEach(function (button) {
      button.addEventListener("click", function () {
        all().then(function (items) {
          if (calls(items)) return;
          var item = { kind: "call", user: me, client_uuid: uuid4(), task: TASK.task, task_label: TASK.label,
            at: isoWithOffset(new Date()), result: button.dataset.call, state: "waiting", saved_at: Date.now() };
          return put(item).then(function () {
            flash(fmt(T.try_saved, { result: RESULTS[item.result] || item.result }), "");
            return refresh();
          }).then(function () { return send(item.client_uuid); });
        });
      });
    });
    var params = new URLSearchParams(location.search);
    all().then(function (items) {
      // A kept record of this household is opened (the one asked for, else the last one),
      // so a second save replaces it instead of making a second record for one household.
      var wanted = params.get("open");
      var mine = items.filter(function (i) { return i.kind === "answer" && i.task === TASK.task && !i.unreadable; });
      var item = mine.filter(function (i) { return i.client_uuid === wanted; })[0] || mine[mine.length - 1];
      if (item) load(item);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
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
        .then(function () { opened = item; return send(item.client_uuid); })
        .then(function () { return get(item.client_uuid); })
        .then(function (left) {
          if (left && left.state === "refused") {
            opened = left;
            form.elements.client_uuid.value = left.client_uuid;
            flash(T.not_accepted, "error");
            showErrors(left.errors && Object.keys(left.errors).length ? left.errors : { __all__: stateText(left) });
            setBusy(false);
            return refresh();
          }
          try { sessionStorage.setItem("minqing-menus-flash", left ? T.saved : T.sent); } catch (e) { /* private mode */ }
          location.assign(tasksUrl);
        })
        .catch(function () { flash(T.fix_first, "error"); setBusy(false); });
    });
  }

  if (!form) {
    try {
      var said = sessionStorage.getItem("minqing-menus-flash");
      if (said) { sessionStorage.removeItem("minqing-menus-flash"); flash(said, ""); }
    } catch (e) { /* private mode */ }
  }
  if (!window.indexedDB || !subtle) return;
  window.addEventListener("online", function () { send(); });
  setInterval(function () { send(); }, 30000);
  send();
})();
