/* The paper-entry form (menus/paper_entry/entry.html): letter keys choose an answer, the
 * version's skip logic (logic.js over the json_script "pe-logic") hides the questions not asked
 * and disables their inputs, and "not reached" hides the answers and shows the reason.
 * Plain ES5, no inline script (the product's CSP). */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function answersOf(form) {
    var out = {};
    var els = form.querySelectorAll("[name^='a-']");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.disabled) continue;
      var name = el.name.slice(2);
      if (el.type === "checkbox") {
        if (!out[name]) out[name] = [];
        if (el.checked) out[name].push(el.value);
      } else if (el.type === "radio") {
        if (el.checked) out[name] = el.value;
      } else if (el.value !== "") {
        out[name] = el.value;
      }
    }
    return out;
  }

  function setShown(box, shown) {
    box.hidden = !shown;
    var inputs = box.querySelectorAll("input, select, textarea");
    for (var i = 0; i < inputs.length; i++) inputs[i].disabled = !shown;
  }

  function apply(form, logic) {
    var outcome = form.querySelector("input[name='outcome']:checked");
    var reached = !outcome || outcome.value !== "not_reached";
    var reason = form.querySelector("[data-reason]");
    if (reason) setShown(reason, !reached);
    var questions = form.querySelector("[data-questions]");
    if (questions) questions.hidden = !reached;
    for (var i = 0; i < logic.length; i++) {
      var q = logic[i];
      var box = document.getElementById("pe-" + q.name);
      if (!box) continue;
      var shown = reached;
      if (shown && q.relevant && window.MinqingLogic) {
        // Answers of the questions before this one, as they stand after the earlier hides.
        shown = window.MinqingLogic.evaluate(q.relevant, answersOf(form)) === true;
      }
      setShown(box, shown);
    }
  }

  function nextQuestion(box) {
    var el = box.nextElementSibling;
    while (el) {
      if (el.classList && el.classList.contains("pe-q") && !el.hidden) {
        var first = el.querySelector("input:not([disabled])");
        if (first) return first;
      }
      el = el.nextElementSibling;
    }
    return null;
  }

  function onKey(event) {
    var target = event.target;
    if (!target || (target.type !== "radio" && target.type !== "checkbox")) return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
    var box = target.closest(".pe-q");
    if (!box) return;
    var key = event.key.toUpperCase();
    var inputs = box.querySelectorAll("input[data-key]");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].getAttribute("data-key") === key) {
        event.preventDefault();
        if (inputs[i].type === "radio") {
          inputs[i].checked = true;
          inputs[i].dispatchEvent(new Event("change", { bubbles: true }));
          var next = nextQuestion(box);
          if (next) next.focus();
          else inputs[i].focus();
        } else {
          inputs[i].checked = !inputs[i].checked;
          inputs[i].dispatchEvent(new Event("change", { bubbles: true }));
          inputs[i].focus();
        }
        return;
      }
    }
  }

  ready(function () {
    var form = document.querySelector("form[data-paper-entry]");
    if (!form) return;
    var source = document.getElementById("pe-logic");
    var logic = [];
    try {
      logic = source ? JSON.parse(source.textContent) : [];
    } catch (e) {
      logic = [];
    }
    form.addEventListener("change", function () { apply(form, logic); });
    form.addEventListener("input", function () { apply(form, logic); });
    form.addEventListener("keydown", onKey);
    apply(form, logic);
  });
})();
