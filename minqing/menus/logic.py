"""The menu's skip-logic language: when a question is asked (``relevant``) and what a valid
answer is (``constraint``).

It is a small subset of the XLSForm/XPath expressions ODK and KoboToolbox understand, so that
a form written here opens there unchanged, and small enough that the phone evaluates it
offline with ``static/menus/logic.js`` (the same rules; ``to_json`` gives it the tree).

What an expression may contain
==============================

=========================  ==================================================================
``${water_ok}``            the answer to an earlier question (``''`` while unanswered)
``'no'``, ``"no"``         a text; no escapes, so a text cannot hold its own quote
``60``, ``-2``, ``3.5``    a number
``.``                      the answer being checked (in a ``constraint`` only)
``= != < <= > >=``         comparisons
``and``, ``or``            both / either (``and`` binds tighter than ``or``)
``not(…)``                 the opposite of a condition
``( … )``                  grouping
``selected(${help}, 'medical')``   a multiple-choice answer includes the choice ``medical``
``count-selected(${help})``        how many choices a multiple-choice answer has
``string-length(${phone})``        how many characters a text answer has
=========================  ==================================================================

Nothing else: no arithmetic (``+``), paths (``/data/q``), other functions (``pulldata()``,
``today()``) or bare words (``yes``: write ``'yes'``). An expression is a condition: a
comparison, a ``selected()``, or such joined by ``and``/``or``/``not()``; a value alone
(``${consent}``) is refused (write ``${consent} = 'yes'`` or ``${consent} != ''``).

Examples::

    ${water_ok} = 'no'                                  饮水不安全时追问
    selected(${help}, 'medical') and ${age} >= 60       需要医疗帮助的老人
    ${house_safe} = 'bad' or ${house_safe} = 'fair'     住房一般或差
    ${income_source} != ''                              已回答收入来源
    not(selected(${help}, 'none') and count-selected(${help}) > 1)   “无”不与其他同选
    . >= 0 and . <= 120                                 年龄（constraint）
    string-length(.) = 11                               手机号 11 位（constraint）

How values compare (as ODK where it matters)
============================================

* An unanswered question is ``''``: ``${q} = ''`` is "unanswered", ``${q} != ''`` "answered".
* When both sides are numbers or numeric texts (``"60"``, ``" -2.5 "``; digits, one optional
  ``-`` and one optional decimal point, no exponent) they compare as numbers (IEEE doubles,
  as on the phone).
* Otherwise ``=`` and ``!=`` compare texts exactly; a number against a text that is not a
  number (``''`` included) is never ``=`` and always ``!=``; ``< <= > >=`` are false (so an
  unanswered ``${age} >= 60`` is false).
* A single-choice answer is its choice name (``${water_ok} = 'no'``). A multiple-choice answer
  is a list of choice names (ODK's space-separated text is accepted too); in a comparison it
  is its names joined by spaces, so ``${help} = ''`` is "none chosen".
* An answer of any other kind (``True``, a dict, a list holding a non-text …) makes every
  comparison that reads it false, ``selected()`` false and ``count-selected()``/
  ``string-length()`` of it unusable (their comparisons false). ``None`` is unanswered.
  ``string-length()`` of a number is likewise unusable; it counts characters (code points).
* Evaluating never raises, whatever the answers.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

__all__ = [
    "And",
    "Compare",
    "CountSelected",
    "Current",
    "Expr",
    "ExpressionError",
    "Not",
    "Number",
    "Or",
    "Ref",
    "Selected",
    "StringLength",
    "Text",
    "compile_expr",
    "evaluate",
    "names",
    "parse",
    "refs",
    "to_json",
    "walk",
]

#: Longest expression text and deepest nesting accepted (a form's conditions are short).
MAX_LENGTH = 2000
MAX_DEPTH = 40

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
#: A numeric text, as ``logic.js`` reads it (ASCII digits, no exponent, no ``+``).
NUMERIC_RE = re.compile(r"[ \t\n\r]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\n\r]*\Z")


class ExpressionError(ValueError):
    """An expression that cannot be read. ``message`` is translated and already says where
    (counting characters from 1); ``position`` is the 0-based offset in the text."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message


# --- The tree -------------------------------------------------------------------------------
# ``pos`` (where the node starts in the text) is kept for messages; it takes no part in
# equality or hashing, so ``parse("a")`` and ``parse(" a")`` give equal trees.


@dataclass(frozen=True)
class Expr:
    """A parsed expression (immutable, hashable)."""


@dataclass(frozen=True)
class Ref(Expr):
    name: str
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Current(Expr):
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Text(Expr):
    value: str
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Number(Expr):
    value: float
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Compare(Expr):
    op: str  # one of = != < <= > >=
    left: Expr
    right: Expr
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class And(Expr):
    parts: tuple[Expr, ...]
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Or(Expr):
    parts: tuple[Expr, ...]
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Selected(Expr):
    target: Ref | Current
    choice: str
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class CountSelected(Expr):
    target: Ref | Current
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class StringLength(Expr):
    target: Ref | Current
    pos: int = field(default=0, compare=False, repr=False)


_CONDITIONS = (Compare, And, Or, Not, Selected)
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


# --- Reading --------------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # "ref" "str" "num" "dot" "op" "(" ")" "," "word" "bad" "end"
    text: str
    pos: int
    value: object = None


_WS = " \t\r\n"
_DIGITS = "0123456789"
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
_NUM_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)")
_UNSUPPORTED_OPS = ("==", "+", "-", "*", "/", "|", "!")


def _at(pos: int) -> dict[str, int]:
    return {"at": pos + 1}


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _WS:
            i += 1
            continue
        start = i
        if c == "$":
            if i + 1 < n and text[i + 1] == "{":
                end = text.find("}", i + 2)
                if end < 0:
                    raise ExpressionError(
                        _("${ at character %(at)d is not closed with }") % _at(start), start
                    )
                name = text[i + 2 : end]
                if not NAME_RE.match(name):
                    raise ExpressionError(
                        _(
                            "${%(name)s} at character %(at)d is not a question name (letters, "
                            "digits and _, starting with a letter)"
                        )
                        % {"name": name, **_at(start)},
                        start,
                    )
                out.append(_Token("ref", text[start : end + 1], start, name))
                i = end + 1
                continue
            raise ExpressionError(
                _("$ at character %(at)d must start a question name: ${name}") % _at(start),
                start,
            )
        if c in "'\"":
            end = text.find(c, i + 1)
            if end < 0:
                raise ExpressionError(
                    _("the text starting at character %(at)d has no closing quote") % _at(start),
                    start,
                )
            out.append(_Token("str", text[start : end + 1], start, text[i + 1 : end]))
            i = end + 1
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUM_RE.match(text, i)
            assert m is not None
            out.append(_Token("num", m.group(), start))
            i = m.end()
            continue
        if c == ".":
            out.append(_Token("dot", ".", start))
            i += 1
            continue
        two = text[i : i + 2]
        if two in ("!=", "<=", ">=", "=="):
            out.append(_Token("op", two, start))
            i += 2
            continue
        if c in "=<>":
            out.append(_Token("op", c, start))
            i += 1
            continue
        if c in "+-*/|!":
            out.append(_Token("op", c, start))
            i += 1
            continue
        if c in "(),":
            out.append(_Token(c, c, start))
            i += 1
            continue
        m = _WORD_RE.match(text, i)
        if m:
            out.append(_Token("word", m.group(), start))
            i = m.end()
            continue
        raise ExpressionError(
            _("the character %(char)s at character %(at)d is not allowed")
            % {"char": c, **_at(start)},
            start,
        )
    out.append(_Token("end", "", n))
    return out


class _Parser:
    def __init__(self, text: str, allow_dot: bool) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.allow_dot = allow_dot
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def take(self) -> _Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, message: str, tok: _Token) -> ExpressionError:
        return ExpressionError(message, tok.pos)

    def unexpected(self, tok: _Token) -> ExpressionError:
        if tok.kind == "end":
            return self.fail(_("the expression ends too early"), tok)
        if tok.kind == "op" and tok.text in _UNSUPPORTED_OPS:
            return self.unsupported_op(tok)
        if tok.kind == "word" and tok.text in ("div", "mod"):
            return self.unsupported_op(tok)
        return self.fail(
            _("%(token)s at character %(at)d is not expected here")
            % {"token": tok.text, **_at(tok.pos)},
            tok,
        )

    def unsupported_op(self, tok: _Token) -> ExpressionError:
        if tok.text == "==":
            return self.fail(
                _("the operator == at character %(at)d is not supported: write =") % _at(tok.pos),
                tok,
            )
        return self.fail(
            _("the operator %(op)s at character %(at)d is not supported")
            % {"op": tok.text, **_at(tok.pos)},
            tok,
        )

    # condition := and ('or' and)*
    def condition(self) -> Expr:
        start = self.tok
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(_("the expression is nested too deeply"), start)
        parts = [self.conjunction()]
        while self.tok.kind == "word" and self.tok.text == "or":
            self.take()
            parts.append(self.conjunction())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else Or(tuple(parts), pos=start.pos)

    def conjunction(self) -> Expr:
        start = self.tok
        parts = [self.need_condition(self.comparison(), start)]
        while self.tok.kind == "word" and self.tok.text == "and":
            self.take()
            t = self.tok
            parts.append(self.need_condition(self.comparison(), t))
        return parts[0] if len(parts) == 1 else And(tuple(parts), pos=start.pos)

    def need_condition(self, e: Expr, start: _Token) -> Expr:
        if isinstance(e, _CONDITIONS):
            return e
        if start.kind == "ref":
            raise self.fail(
                _(
                    "%(value)s at character %(at)d is a value, not a condition: compare it, "
                    "e.g. %(value)s = 'yes' or %(value)s != ''"
                )
                % {"value": start.text, **_at(start.pos)},
                start,
            )
        raise self.fail(
            _("the value at character %(at)d is not a condition: compare it with = != < <= > or >=")
            % _at(start.pos),
            start,
        )

    def comparison(self) -> Expr:
        start = self.tok
        left = self.operand()
        if self.tok.kind == "word" and self.tok.text in ("div", "mod"):
            raise self.unsupported_op(self.tok)
        if self.tok.kind != "op":
            return left
        op_tok = self.take()
        if op_tok.text not in COMPARISONS:
            raise self.unsupported_op(op_tok)
        right_tok = self.tok
        right = self.operand()
        for side, tok in ((left, start), (right, right_tok)):
            if isinstance(side, _CONDITIONS):
                raise self.fail(
                    _(
                        "the condition at character %(at)d cannot be compared with %(op)s: "
                        "join conditions with and / or"
                    )
                    % {"op": op_tok.text, **_at(tok.pos)},
                    tok,
                )
        if self.tok.kind == "op" and self.tok.text in COMPARISONS:
            raise self.fail(
                _(
                    "the second comparison at character %(at)d: compare two things at a time "
                    "and join them with and"
                )
                % _at(self.tok.pos),
                self.tok,
            )
        return Compare(op_tok.text, left, right, pos=start.pos)

    def operand(self) -> Expr:
        tok = self.tok
        if tok.kind == "(":
            self.take()
            inner = self.condition_or_value()
            self.expect(")", tok)
            return inner
        if tok.kind == "ref":
            self.take()
            assert isinstance(tok.value, str)
            return Ref(tok.value, pos=tok.pos)
        if tok.kind == "dot":
            self.take()
            return self.dot(tok)
        if tok.kind == "str":
            self.take()
            assert isinstance(tok.value, str)
            return Text(tok.value, pos=tok.pos)
        if tok.kind == "num":
            self.take()
            return self.number(tok.text, tok)
        if tok.kind == "op" and tok.text == "-" and self.toks[self.i + 1].kind == "num":
            nxt = self.toks[self.i + 1]
            if nxt.pos == tok.pos + 1:
                self.take()
                self.take()
                return self.number("-" + nxt.text, tok)
        if tok.kind == "word":
            if self.toks[self.i + 1].kind == "(":
                return self.function()
            if tok.text in ("and", "or", "div", "mod"):
                raise self.unexpected(tok)
            raise self.fail(
                _(
                    "the word %(word)s at character %(at)d: put a text in quotes ('%(word)s') "
                    "or name a question as ${%(word)s}"
                )
                % {"word": tok.text, **_at(tok.pos)},
                tok,
            )
        raise self.unexpected(tok)

    def condition_or_value(self) -> Expr:
        """Inside parentheses: a condition, or a single value (``(${a}) = 1``)."""
        start = self.tok
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(_("the expression is nested too deeply"), start)
        first = self.comparison()
        if self.tok.kind == "word" and self.tok.text in ("and", "or"):
            self.need_condition(first, start)
            parts: list[Expr] = [first]
            while self.tok.kind == "word" and self.tok.text == "and":
                self.take()
                t = self.tok
                parts.append(self.need_condition(self.comparison(), t))
            conj = parts[0] if len(parts) == 1 else And(tuple(parts), pos=start.pos)
            alts = [conj]
            while self.tok.kind == "word" and self.tok.text == "or":
                self.take()
                alts.append(self.conjunction())
            first = alts[0] if len(alts) == 1 else Or(tuple(alts), pos=start.pos)
        self.depth -= 1
        return first

    def expect(self, kind: str, opened: _Token) -> _Token:
        if self.tok.kind != kind:
            if kind == ")" and self.tok.kind == "end":
                raise self.fail(
                    _("the ( at character %(at)d is not closed") % _at(opened.pos), opened
                )
            raise self.unexpected(self.tok)
        return self.take()

    def dot(self, tok: _Token) -> Current:
        if not self.allow_dot:
            raise self.fail(
                _(
                    ". at character %(at)d (the answer itself) can only be used in a "
                    "constraint; name the question as ${name}"
                )
                % _at(tok.pos),
                tok,
            )
        return Current(pos=tok.pos)

    def number(self, text: str, tok: _Token) -> Number:
        value = float(text)
        if not math.isfinite(value):
            raise self.fail(_("the number at character %(at)d is too large") % _at(tok.pos), tok)
        return Number(value, pos=tok.pos)

    def function(self) -> Expr:
        name_tok = self.take()
        name = name_tok.text
        open_tok = self.take()  # "("
        if name == "not":
            inner_start = self.tok
            if inner_start.kind == ")":
                raise self.fail(
                    _("not() at character %(at)d needs a condition inside") % _at(name_tok.pos),
                    name_tok,
                )
            inner = self.condition()
            self.expect(")", open_tok)
            return Not(inner, pos=name_tok.pos)
        if name not in ("selected", "count-selected", "string-length"):
            raise self.fail(
                _("%(name)s() at character %(at)d is not supported")
                % {"name": name, **_at(name_tok.pos)},
                name_tok,
            )

        def bad() -> ExpressionError:
            if name == "selected":
                usage = _(
                    "selected() takes a question and a choice name, e.g. "
                    "selected(${help}, 'medical')"
                )
            elif name == "count-selected":
                usage = _("count-selected() takes one question, e.g. count-selected(${help})")
            else:
                usage = _("string-length() takes one question, e.g. string-length(${phone})")
            where = _("(at character %(at)d)") % _at(name_tok.pos)
            return self.fail(f"{usage} {where}", name_tok)

        t = self.tok
        target: Ref | Current
        if t.kind == "ref":
            self.take()
            assert isinstance(t.value, str)
            target = Ref(t.value, pos=t.pos)
        elif t.kind == "dot":
            self.take()
            target = self.dot(t)
        else:
            raise bad()
        if name == "selected":
            if self.tok.kind != ",":
                raise bad()
            self.take()
            c = self.tok
            if c.kind != "str":
                raise bad()
            self.take()
            if self.tok.kind != ")":
                raise bad()
            self.take()
            assert isinstance(c.value, str)
            return Selected(target, c.value, pos=name_tok.pos)
        if self.tok.kind != ")":
            raise bad()
        self.take()
        if name == "count-selected":
            return CountSelected(target, pos=name_tok.pos)
        return StringLength(target, pos=name_tok.pos)


def parse(text: str, *, allow_dot: bool = False) -> Expr:
    """The tree of a condition; ``allow_dot`` for a constraint (``.`` is the answer).
    Raises ``ExpressionError`` with a translated message saying what and where."""
    if not isinstance(text, str):
        raise ExpressionError(_("the expression is not a text"), 0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            _("the expression is longer than %(n)d characters") % {"n": MAX_LENGTH}, MAX_LENGTH
        )
    if not text.strip():
        raise ExpressionError(_("the expression is empty"), 0)
    p = _Parser(text, allow_dot)
    start = p.tok
    tree = p.need_condition(p.condition(), start)
    if p.tok.kind != "end":
        raise p.unexpected(p.tok)
    return tree


# --- Looking at a tree ----------------------------------------------------------------------


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node, depth first, in the order of the text."""
    yield expr
    if isinstance(expr, Compare):
        yield from walk(expr.left)
        yield from walk(expr.right)
    elif isinstance(expr, And | Or):
        for part in expr.parts:
            yield from walk(part)
    elif isinstance(expr, Not):
        yield from walk(expr.operand)
    elif isinstance(expr, Selected | CountSelected | StringLength):
        yield from walk(expr.target)


def refs(expr: Expr) -> list[Ref]:
    """The ``${...}`` references in the order of the text (repeats included)."""
    return [e for e in walk(expr) if isinstance(e, Ref)]


def names(expr: Expr) -> frozenset[str]:
    """The question names the expression reads."""
    return frozenset(r.name for r in refs(expr))


def _json_number(v: float) -> int | float:
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def to_json(expr: Expr) -> object:
    """A plain JSON tree for ``logic.js``: every node a list whose head says what it is::

    ["ref", "age"]  ["dot"]  ["str", "no"]  ["num", 60]
    ["=", left, right] (and != < <= > >=)   ["and", a, b, …]  ["or", a, b, …]  ["not", a]
    ["selected", target, "medical"]  ["count-selected", target]  ["string-length", target]
    """
    if isinstance(expr, Ref):
        return ["ref", expr.name]
    if isinstance(expr, Current):
        return ["dot"]
    if isinstance(expr, Text):
        return ["str", expr.value]
    if isinstance(expr, Number):
        return ["num", _json_number(expr.value)]
    if isinstance(expr, Compare):
        return [expr.op, to_json(expr.left), to_json(expr.right)]
    if isinstance(expr, And):
        return ["and", *(to_json(p) for p in expr.parts)]
    if isinstance(expr, Or):
        return ["or", *(to_json(p) for p in expr.parts)]
    if isinstance(expr, Not):
        return ["not", to_json(expr.operand)]
    if isinstance(expr, Selected):
        return ["selected", to_json(expr.target), expr.choice]
    if isinstance(expr, CountSelected):
        return ["count-selected", to_json(expr.target)]
    if isinstance(expr, StringLength):
        return ["string-length", to_json(expr.target)]
    raise TypeError(f"not an expression: {expr!r}")


# --- Evaluating -----------------------------------------------------------------------------
# An expression compiles once into nested closures (``compile_expr``); a value closure returns
# the raw answer (or a float, or _INVALID), a condition closure a bool.


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid>"


_INVALID = _Invalid()
_numeric = NUMERIC_RE.match

Answers = Mapping[str, object]
Value = Callable[[Answers, object], object]
Condition = Callable[[Answers, object], bool]


def _scalar(v: object) -> object:
    """A raw answer as a comparison sees it: str, float or _INVALID."""
    t = type(v)
    if t is str or t is float:
        return v
    if v is None:
        return ""
    if t is int:
        return _int_float(v)  # type: ignore[arg-type]
    if t is list or t is tuple:
        if all(type(x) is str for x in v):  # type: ignore[attr-defined]
            return " ".join(v)  # type: ignore[arg-type]
        return _INVALID
    if t is bool:
        return _INVALID
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return _int_float(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, Decimal):
        try:
            return float(v)
        except (ValueError, ArithmeticError):
            return _INVALID
    return _INVALID


def _int_float(v: int) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


_NUMBER_START = frozenset(" \t\n\r-.0123456789")


def _as_number(v: object) -> float | None:
    if type(v) is float:
        return v
    if type(v) is str and v and v[0] in _NUMBER_START and _numeric(v):
        return float(v)
    return None


def _compare(op: str, a: object, b: object) -> bool:
    if a is _INVALID or b is _INVALID:
        return False
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None:
        if op == "=":
            return na == nb
        if op == "!=":
            return na != nb
        if op == "<":
            return na < nb
        if op == "<=":
            return na <= nb
        if op == ">":
            return na > nb
        return na >= nb
    if op == "=":
        return type(a) is str and type(b) is str and a == b
    if op == "!=":
        return not (type(a) is str and type(b) is str and a == b)
    return False


def _items(v: object) -> list[str] | None:
    """The chosen names of a multiple-choice answer, or None when it is not one."""
    if v is None:
        return []
    t = type(v)
    if t is list or t is tuple:
        if all(type(x) is str for x in v):  # type: ignore[attr-defined]
            return list(v)  # type: ignore[call-overload]
        return None
    if t is str or isinstance(v, str):
        return [p for p in str(v).split(" ") if p]
    return None


def _value(expr: Expr) -> Value:
    if isinstance(expr, Ref):
        name = expr.name

        def ref(answers: Answers, current: object) -> object:
            return answers.get(name, "")

        return ref
    if isinstance(expr, Current):
        return lambda answers, current: current
    if isinstance(expr, Text | Number):
        constant = expr.value
        return lambda answers, current: constant
    if isinstance(expr, CountSelected):
        target = _value(expr.target)

        def count(answers: Answers, current: object) -> object:
            items = _items(target(answers, current))
            return _INVALID if items is None else float(len(items))

        return count
    if isinstance(expr, StringLength):
        target = _value(expr.target)

        def length(answers: Answers, current: object) -> object:
            v = _scalar(target(answers, current))
            return float(len(v)) if type(v) is str else _INVALID

        return length
    raise TypeError(f"not a value: {expr!r}")


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _compare_constant(op: str, var: Value, constant: str | float) -> Condition:
    """``_compare(op, var, constant)`` with what is known of the constant worked out once
    (most comparisons are of an answer with a literal)."""
    c = _scalar(constant)
    cn = _as_number(c)
    number_op = _OPERATORS[op]
    if cn is not None:
        # A non-numeric answer never equals a numeric constant.
        otherwise = op == "!="

        def with_number(answers: Answers, current: object) -> bool:
            v = var(answers, current)
            a = v if type(v) is str else _scalar(v)
            if a is _INVALID:
                return False
            na = _as_number(a)
            if na is not None:
                return number_op(na, cn)
            return otherwise

        return with_number
    # A text constant that is not a number: only = and != can hold.
    if op == "=":

        def equal(answers: Answers, current: object) -> bool:
            v = var(answers, current)
            a = v if type(v) is str else _scalar(v)
            return a is not _INVALID and a == c

        return equal
    if op == "!=":

        def not_equal(answers: Answers, current: object) -> bool:
            v = var(answers, current)
            a = v if type(v) is str else _scalar(v)
            return a is not _INVALID and a != c

        return not_equal
    return lambda answers, current: False


def _condition(expr: Expr) -> Condition:
    if isinstance(expr, Compare):
        op = expr.op
        constants = Text | Number
        if isinstance(expr.right, constants) and not isinstance(expr.left, constants):
            return _compare_constant(op, _value(expr.left), expr.right.value)
        if isinstance(expr.left, constants) and not isinstance(expr.right, constants):
            return _compare_constant(_FLIPPED[op], _value(expr.right), expr.left.value)
        left, right = _value(expr.left), _value(expr.right)
        return lambda answers, current: _compare(
            op, _scalar(left(answers, current)), _scalar(right(answers, current))
        )
    if isinstance(expr, And):
        parts = tuple(_condition(p) for p in expr.parts)

        def all_of(answers: Answers, current: object) -> bool:
            for p in parts:
                if not p(answers, current):
                    return False
            return True

        return all_of
    if isinstance(expr, Or):
        alts = tuple(_condition(p) for p in expr.parts)

        def any_of(answers: Answers, current: object) -> bool:
            for p in alts:
                if p(answers, current):
                    return True
            return False

        return any_of
    if isinstance(expr, Not):
        inner = _condition(expr.operand)
        return lambda answers, current: not inner(answers, current)
    if isinstance(expr, Selected):
        target, choice = _value(expr.target), expr.choice

        def selected(answers: Answers, current: object) -> bool:
            items = _items(target(answers, current))
            return items is not None and choice in items

        return selected
    raise TypeError(f"not a condition: {expr!r}")


def compile_expr(expr: Expr) -> Condition:
    """A function ``(answers, current) -> bool`` that evaluates ``expr`` (and never raises);
    compile once, call for every household."""
    inner = _condition(expr)

    def run(answers: Answers, current: object = None) -> bool:
        try:
            return inner(answers, current) is True
        except Exception:  # a Mapping whose get() fails; the rules above leave nothing else
            return False

    return run


@functools.lru_cache(maxsize=512)
def _compiled(expr: Expr) -> Condition:
    return compile_expr(expr)


def evaluate(expr: Expr, answers: Mapping[str, object], current: object = None) -> bool:
    """Whether the condition holds for these answers (``current``: the answer ``.`` is)."""
    try:
        fn = _compiled(expr)
    except TypeError:  # an unhashable hand-made tree
        fn = compile_expr(expr)
    return fn(answers, current)
