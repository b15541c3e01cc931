/* The menu's skip logic on the phone: evaluates the JSON tree of minqing.menus.logic.to_json
 * against the answers, with exactly the rules of the Python evaluator (see the docstring of
 * minqing/menus/logic.py). Plain ES5, no dependencies; never throws.
 *
 *   MinqingLogic.evaluate(["=", ["ref", "water_ok"], ["str", "no"]], {water_ok: "no"})  // true
 *   MinqingLogic.evaluate([">=", ["dot"], ["num", 0]], answers, 42)                    // true
 *
 * Answers: a text, a number, a list of choice names (a multiple choice answer), or
 * null/undefined/absent (unanswered, as ""). Anything else makes what reads it false.
 */
(function (root) {
  "use strict";

  var INVALID = { invalid: true };
  var NUMERIC = /^[ \t\n\r]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\n\r]*$/;
  var hasOwn = Object.prototype.hasOwnProperty;

  function isArray(v) {
    return Object.prototype.toString.call(v) === "[object Array]";
  }

  function allStrings(list) {
    for (var i = 0; i < list.length; i++) {
      if (typeof list[i] !== "string") return false;
    }
    return true;
  }

  // A raw answer as a comparison sees it: a string, a number or INVALID.
  function scalar(v) {
    if (typeof v === "string" || typeof v === "number") return v;
    if (v === null || v === undefined) return "";
    if (isArray(v)) return allStrings(v) ? v.join(" ") : INVALID;
    return INVALID;
  }

  function asNumber(v) {
    if (typeof v === "number") return v;
    if (typeof v === "string" && NUMERIC.test(v)) return Number(v);
    return null;
  }

  function compare(op, a, b) {
    if (a === INVALID || b === INVALID) return false;
    var na = asNumber(a), nb = asNumber(b);
    if (na !== null && nb !== null) {
      switch (op) {
        case "=": return na === nb;
        case "!=": return na !== nb;
        case "<": return na < nb;
        case "<=": return na <= nb;
        case ">": return na > nb;
        case ">=": return na >= nb;
      }
      return false;
    }
    var same = typeof a === "string" && typeof b === "string" && a === b;
    if (op === "=") return same;
    if (op === "!=") return !same;
    return false;
  }

  // The chosen names of a multiple choice answer, or null when it is not one.
  function items(v) {
    if (v === null || v === undefined) return [];
    if (isArray(v)) return allStrings(v) ? v : null;
    if (typeof v === "string") {
      var parts = v.split(" "), out = [];
      for (var i = 0; i < parts.length; i++) if (parts[i] !== "") out.push(parts[i]);
      return out;
    }
    return null;
  }

  // Characters counted as code points, as Python's len().
  function codePoints(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        var d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) i++;
      }
      n++;
    }
    return n;
  }

  function contains(list, x) {
    for (var i = 0; i < list.length; i++) if (list[i] === x) return true;
    return false;
  }

  function value(node, answers, current) {
    switch (node[0]) {
      case "ref":
        return hasOwn.call(answers, node[1]) ? answers[node[1]] : "";
      case "dot":
        return current;
      case "str":
      case "num":
        return node[1];
      case "count-selected":
        var chosen = items(value(node[1], answers, current));
        return chosen === null ? INVALID : chosen.length;
      case "string-length":
        var s = scalar(value(node[1], answers, current));
        return typeof s === "string" ? codePoints(s) : INVALID;
    }
    throw new Error("not a value: " + node[0]);
  }

  function condition(node, answers, current) {
    var i;
    switch (node[0]) {
      case "=":
      case "!=":
      case "<":
      case "<=":
      case ">":
      case ">=":
        return compare(
          node[0],
          scalar(value(node[1], answers, current)),
          scalar(value(node[2], answers, current))
        );
      case "and":
        for (i = 1; i < node.length; i++) if (!condition(node[i], answers, current)) return false;
        return true;
      case "or":
        for (i = 1; i < node.length; i++) if (condition(node[i], answers, current)) return true;
        return false;
      case "not":
        return !condition(node[1], answers, current);
      case "selected":
        var chosen = items(value(node[1], answers, current));
        return chosen !== null && contains(chosen, node[2]);
    }
    throw new Error("not a condition: " + node[0]);
  }

  function evaluate(tree, answers, current) {
    try {
      if (answers === null || typeof answers !== "object") answers = {};
      return condition(tree, answers, current) === true;
    } catch (e) {
      return false;
    }
  }

  var api = { evaluate: evaluate };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.MinqingLogic = api;
})(typeof window !== "undefined" ? window : typeof self !== "undefined" ? self : null);
