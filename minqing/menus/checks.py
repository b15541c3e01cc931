"""Whether a questionnaire is one a visitor can ask (``check_form``), and whether a household's
answers fit it (``check_answers``, ``clean_answers``, ``compile_form``).

``check_form`` runs when a department saves its checklist, when an XLSForm is read and when a
menu version is put together; each ``Problem`` names the question and says what to fix.

The answers' checks run on the server for every household's submission, so a form is compiled
once (``compile_form``: every expression parsed and turned into a function, every question's
cleaner chosen) and the ``CompiledForm`` is reused for every household of the campaign::

    compiled = compile_form(version_spec.for_place("rural"))
    cleaned, errors = compiled.validate(answers)   # one pass: what to store, what is wrong

How answers are normalised (``clean``)
======================================

===================  =========================================================================
``integer``          an ``int`` (given as an int or a text of digits; at most 2**53 - 1)
``decimal``          the text of its exact value, no exponent, no trailing zeros: ``"12.5"``,
                     ``"3"``, ``"-0.25"`` (given as a number or a numeric text; at most 10
                     decimal places, less than 10**15). A text keeps exactly what the visitor
                     typed, with no binary rounding; the skip logic reads it as a number.
``select_one``,      the choice name, stripped
``yes_no``,
``good_fair_bad``
``select_multiple``  a ``list`` of the choice names, in the order of the choices
``text``             the text, stripped (at most ``MAX_TEXT_ANSWER`` characters)
===================  =========================================================================

``None``, ``""`` (or only spaces) and ``[]`` are "unanswered" and left out; values that do not
fit are left out of ``clean`` and reported by ``check``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minqing.menus import logic
from minqing.menus.errors import MenuErrorCode
from minqing.menus.spec import (
    CHOICE_TYPES,
    FIXED_CHOICES,
    MAX_LABEL,
    MAX_TEXT_ANSWER,
    NUMBER_TYPES,
    QTYPE_LABELS,
    Applies,
    FormSpec,
    QType,
    QuestionSpec,
)

__all__ = [
    "CHOICE_NAME_RE",
    "NAME_RE",
    "CompiledForm",
    "Problem",
    "check_answers",
    "check_form",
    "clean_answers",
    "compile_form",
]

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
#: A choice's name is stored, and joined with spaces in a multiple-choice answer: no spaces.
CHOICE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
MAX_INTEGER = 2**53 - 1
MAX_DECIMAL = Decimal(10) ** 15
MAX_DECIMAL_PLACES = 10


@dataclass(frozen=True)
class Problem:
    index: int  # position in form.questions (0-based), -1 for the whole form
    # "name", "type", "label", "choices", "relevant", "constraint", "applies"; "" for the form
    field: str
    message: str  # translated, names the question and says what to fix
    code: str  # a MenuErrorCode value


# --- The form -------------------------------------------------------------------------------


def _who(index: int, q: QuestionSpec) -> str:
    """How a message names a question: its name when it has a usable one."""
    if isinstance(q.name, str) and NAME_RE.match(q.name):
        return q.name
    return _("question %(n)d") % {"n": index + 1}


def _qtype(q: QuestionSpec) -> QType | None:
    try:
        return QType(q.type)
    except ValueError:
        return None


def _applies(q: QuestionSpec) -> Applies | None:
    try:
        return Applies(q.applies)
    except ValueError:
        return None


def _literal_text(e: logic.Text | logic.Number) -> str:
    if isinstance(e, logic.Text):
        return e.value
    v = e.value
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


class _FormChecker:
    def __init__(self, form: FormSpec) -> None:
        self.form = form
        self.qs = list(form.questions)
        self.problems: list[Problem] = []
        self.first: dict[str, int] = {}  # a usable name -> the first question carrying it
        self.types: list[QType | None] = [_qtype(q) for q in self.qs]
        self.applies: list[Applies | None] = [_applies(q) for q in self.qs]

    def add(self, index: int, field: str, code: MenuErrorCode, message: str) -> None:
        p = Problem(index, field, message, code.value)
        if p not in self.problems:
            self.problems.append(p)

    def run(self) -> list[Problem]:
        for i, q in enumerate(self.qs):
            self.check_name(i, q)
        for i, q in enumerate(self.qs):
            self.check_type(i, q)
            self.check_label(i, q)
            self.check_applies(i, q)
            self.check_choices(i, q)
            self.check_relevant(i, q)
            self.check_constraint(i, q)
        if not any(t != QType.NOTE for t in self.types):  # (a bad type is reported already)
            self.add(
                -1,
                "",
                MenuErrorCode.EMPTY,
                _("The form has no question to answer: add at least one that is not a note."),
            )
        return sorted(self.problems, key=lambda p: p.index)

    # --- each field

    def check_name(self, i: int, q: QuestionSpec) -> None:
        name = q.name
        if not isinstance(name, str) or not name.strip():
            self.add(
                i,
                "name",
                MenuErrorCode.BAD_NAME,
                _("Question %(n)d has no name: give it one (letters, digits and _).")
                % {"n": i + 1},
            )
        elif not NAME_RE.match(name):
            self.add(
                i,
                "name",
                MenuErrorCode.BAD_NAME,
                _(
                    "The name “%(name)s” of question %(n)d cannot be used: write up to 64 "
                    "letters, digits and _, starting with a letter or _ (no spaces)."
                )
                % {"name": name, "n": i + 1},
            )
        elif name in self.first:
            self.add(
                i,
                "name",
                MenuErrorCode.DUPLICATE_NAME,
                _(
                    "The name %(name)s of question %(n)d is already the name of question "
                    "%(m)d: give it another name."
                )
                % {"name": name, "n": i + 1, "m": self.first[name] + 1},
            )
        else:
            self.first[name] = i

    def check_type(self, i: int, q: QuestionSpec) -> None:
        if self.types[i] is None:
            self.add(
                i,
                "type",
                MenuErrorCode.BAD_TYPE,
                _("%(q)s: “%(type)s” is not a question type; choose one of %(types)s.")
                % {"q": _who(i, q), "type": q.type, "types": ", ".join(t.value for t in QType)},
            )

    def check_label(self, i: int, q: QuestionSpec) -> None:
        if not isinstance(q.label_zh, str) or not q.label_zh.strip():
            self.add(
                i,
                "label",
                MenuErrorCode.LABEL_REQUIRED,
                _("%(q)s has no Chinese label: write what the visitor reads out.")
                % {"q": _who(i, q)},
            )
        elif len(q.label_zh) > MAX_LABEL or len(q.label_en or "") > MAX_LABEL:
            self.add(
                i,
                "label",
                MenuErrorCode.LABEL_TOO_LONG,
                _("%(q)s: the label is longer than %(max)d characters; shorten it.")
                % {"q": _who(i, q), "max": MAX_LABEL},
            )

    def check_applies(self, i: int, q: QuestionSpec) -> None:
        if self.applies[i] is None:
            self.add(
                i,
                "applies",
                MenuErrorCode.BAD_APPLIES,
                _("%(q)s: “%(applies)s” is not a version; choose both, urban or rural.")
                % {"q": _who(i, q), "applies": q.applies},
            )

    def check_choices(self, i: int, q: QuestionSpec) -> None:
        t = self.types[i]
        if t is None:
            return
        who = _who(i, q)
        choices = list(q.choices or [])
        if t not in CHOICE_TYPES:
            if choices:
                self.add(
                    i,
                    "choices",
                    MenuErrorCode.BAD_CHOICES,
                    _("%(q)s: a question of type “%(type)s” has no choices; remove them.")
                    % {"q": who, "type": str(QTYPE_LABELS[t])},
                )
            return
        fixed = FIXED_CHOICES.get(t)
        if fixed is not None:
            if tuple(choices) != fixed:
                self.add(
                    i,
                    "choices",
                    MenuErrorCode.BAD_CHOICES,
                    _(
                        "%(q)s: a question of type “%(type)s” always has the choices %(choices)s; "
                        "leave them as they are, or make it a single choice question."
                    )
                    % {
                        "q": who,
                        "type": str(QTYPE_LABELS[t]),
                        "choices": ", ".join(f"{c.name} ({c.label_zh})" for c in fixed),
                    },
                )
            return
        if len(choices) < 2:
            self.add(
                i,
                "choices",
                MenuErrorCode.MISSING_CHOICES,
                _("%(q)s: a choice question needs at least two choices; add them.") % {"q": who},
            )
        seen_names: set[str] = set()
        seen_labels: set[str] = set()
        for c in choices:
            name = c.name
            if not isinstance(name, str) or not CHOICE_NAME_RE.match(name):
                self.add(
                    i,
                    "choices",
                    MenuErrorCode.BAD_CHOICES,
                    _(
                        "%(q)s: the choice name “%(name)s” cannot be used: write up to 64 "
                        "letters, digits, _, - or . (no spaces)."
                    )
                    % {"q": who, "name": name},
                )
            elif name in seen_names:
                self.add(
                    i,
                    "choices",
                    MenuErrorCode.BAD_CHOICES,
                    _("%(q)s: the choice name %(name)s is used twice; give each choice its own.")
                    % {"q": who, "name": name},
                )
            else:
                seen_names.add(name)
            label = c.label_zh
            if not isinstance(label, str) or not label.strip():
                self.add(
                    i,
                    "choices",
                    MenuErrorCode.LABEL_REQUIRED,
                    _("%(q)s: the choice %(name)s has no Chinese label; write it.")
                    % {"q": who, "name": name},
                )
            elif len(label) > MAX_LABEL:
                self.add(
                    i,
                    "choices",
                    MenuErrorCode.LABEL_TOO_LONG,
                    _("%(q)s: the label of choice %(name)s is longer than %(max)d characters.")
                    % {"q": who, "name": name, "max": MAX_LABEL},
                )
            elif label.strip() in seen_labels:
                self.add(
                    i,
                    "choices",
                    MenuErrorCode.BAD_CHOICES,
                    _("%(q)s: two choices have the label “%(label)s”; make them different.")
                    % {"q": who, "label": label.strip()},
                )
            else:
                seen_labels.add(label.strip())

    # --- expressions

    def check_relevant(self, i: int, q: QuestionSpec) -> None:
        if q.relevant:
            self.check_expression(i, q, "relevant", q.relevant)

    def check_constraint(self, i: int, q: QuestionSpec) -> None:
        if not q.constraint:
            return
        t = self.types[i]
        if t is None:
            return
        if t == QType.NOTE:
            self.add(
                i,
                "constraint",
                MenuErrorCode.CONSTRAINT_NOT_ALLOWED,
                _("%(q)s is a note and takes no answer: remove its constraint.")
                % {"q": _who(i, q)},
            )
            return
        self.check_expression(i, q, "constraint", q.constraint)

    def what(self, field: str) -> str:
        if field == "relevant":
            return _("its condition for being asked (relevant)")
        return _("its rule for a valid answer (constraint)")

    def check_expression(self, i: int, q: QuestionSpec, field: str, text: str) -> None:
        who, what = _who(i, q), self.what(field)
        try:
            expr = logic.parse(text, allow_dot=field == "constraint")
        except logic.ExpressionError as e:
            self.add(
                i,
                field,
                MenuErrorCode.EXPRESSION,
                _("%(q)s: %(what)s cannot be read: %(error)s.")
                % {"q": who, "what": what, "error": e.message},
            )
            return
        for ref in logic.refs(expr):
            self.check_ref(i, q, field, ref.name)
        for node in logic.walk(expr):
            if isinstance(node, logic.Selected | logic.CountSelected):
                self.check_select(i, q, field, node)
            elif isinstance(node, logic.Compare):
                self.check_compare(i, q, field, node.left, node.right)
                self.check_compare(i, q, field, node.right, node.left)

    def check_ref(self, i: int, q: QuestionSpec, field: str, name: str) -> None:
        who, what = _who(i, q), self.what(field)
        j = self.first.get(name)
        if j is None:
            self.add(
                i,
                field,
                MenuErrorCode.UNKNOWN_QUESTION,
                _("%(q)s: %(what)s refers to ${%(ref)s}, which is not a question of this form.")
                % {"q": who, "what": what, "ref": name},
            )
            return
        if j == i:
            if field == "constraint":
                message = _(
                    "%(q)s: %(what)s refers to the question itself as ${%(ref)s}; write . for "
                    "its own answer."
                )
            else:
                message = _(
                    "%(q)s: %(what)s refers to the question itself; it can only depend on "
                    "questions asked before it."
                )
            self.add(
                i,
                field,
                MenuErrorCode.FORWARD_REFERENCE,
                message % {"q": who, "what": what, "ref": name},
            )
            return
        if j > i:
            self.add(
                i,
                field,
                MenuErrorCode.FORWARD_REFERENCE,
                _(
                    "%(q)s: %(what)s refers to ${%(ref)s}, which is asked after it, so the "
                    "visitor cannot know that answer yet; move %(ref)s before it or change "
                    "the expression."
                )
                % {"q": who, "what": what, "ref": name},
            )
            return
        if self.types[j] == QType.NOTE:
            self.add(
                i,
                field,
                MenuErrorCode.NOTE_REFERENCE,
                _("%(q)s: %(what)s refers to ${%(ref)s}, which is a note and has no answer.")
                % {"q": who, "what": what, "ref": name},
            )
            return
        mine, theirs = self.applies[i], self.applies[j]
        if mine is None or theirs is None or theirs == Applies.BOTH or mine == theirs:
            return
        self.add(
            i,
            field,
            MenuErrorCode.OTHER_VERSION,
            _(
                "%(q)s: %(what)s refers to ${%(ref)s}, which is only in the %(theirs)s, but "
                "%(q)s is asked in the %(mine)s; make them apply to the same version."
            )
            % {
                "q": who,
                "what": what,
                "ref": name,
                "theirs": _version(theirs),
                "mine": _version(Applies.RURAL if theirs == Applies.URBAN else Applies.URBAN),
            },
        )

    def target(self, i: int, node: logic.Expr) -> tuple[int, QType] | None:
        """The question a reference (or ``.``) reads, when it is a usable earlier one."""
        if isinstance(node, logic.Current):
            j = i
        elif isinstance(node, logic.Ref):
            found = self.first.get(node.name)
            if found is None or found >= i:
                return None
            j = found
        else:
            return None
        t = self.types[j]
        return None if t is None else (j, t)

    def check_select(
        self, i: int, q: QuestionSpec, field: str, node: logic.Selected | logic.CountSelected
    ) -> None:
        found = self.target(i, node.target)
        if found is None:
            return
        j, t = found
        func = "selected()" if isinstance(node, logic.Selected) else "count-selected()"
        if t != QType.SELECT_MULTIPLE:
            self.add(
                i,
                field,
                MenuErrorCode.NOT_MULTIPLE,
                _(
                    "%(q)s: %(what)s uses %(func)s on %(ref)s, which is not a multiple choice "
                    "question; compare it with = instead."
                )
                % {
                    "q": _who(i, q),
                    "what": self.what(field),
                    "func": func,
                    "ref": _who(j, self.qs[j]),
                },
            )
            return
        if isinstance(node, logic.Selected):
            choices = self.qs[j].choice_names()
            if node.choice not in choices:
                self.not_a_choice(i, q, field, node.choice, j)

    def not_a_choice(self, i: int, q: QuestionSpec, field: str, value: str, j: int) -> None:
        self.add(
            i,
            field,
            MenuErrorCode.NOT_A_CHOICE,
            _(
                "%(q)s: in %(what)s, '%(value)s' is not a choice of %(ref)s "
                "(its choices: %(choices)s)."
            )
            % {
                "q": _who(i, q),
                "what": self.what(field),
                "value": value,
                "ref": _who(j, self.qs[j]),
                "choices": ", ".join(self.qs[j].choice_names()),
            },
        )

    def check_compare(
        self, i: int, q: QuestionSpec, field: str, side: logic.Expr, other: logic.Expr
    ) -> None:
        if not isinstance(other, logic.Text | logic.Number):
            return
        found = self.target(i, side)
        if found is None:
            return
        j, t = found
        literal = _literal_text(other)
        if isinstance(other, logic.Text) and literal == "":
            return
        if t == QType.SELECT_MULTIPLE:
            self.add(
                i,
                field,
                MenuErrorCode.USE_SELECTED,
                _(
                    "%(q)s: %(what)s compares the multiple choice question %(ref)s with "
                    "'%(value)s'; write selected(${%(ref)s}, '%(value)s') instead."
                )
                % {
                    "q": _who(i, q),
                    "what": self.what(field),
                    "ref": _who(j, self.qs[j]),
                    "value": literal,
                },
            )
        elif t in CHOICE_TYPES:
            names = self.qs[j].choice_names()
            if isinstance(other, logic.Text):
                ok = literal in names
            else:
                ok = any(
                    logic.NUMERIC_RE.match(n) is not None and float(n) == other.value
                    for n in names
                    if isinstance(n, str)
                )
            if not ok:
                self.not_a_choice(i, q, field, literal, j)
        elif t in NUMBER_TYPES and isinstance(other, logic.Text):
            if logic.NUMERIC_RE.match(literal) is None:
                self.add(
                    i,
                    field,
                    MenuErrorCode.TYPE_MISMATCH,
                    _(
                        "%(q)s: %(what)s compares the number question %(ref)s with the text "
                        "'%(value)s'; compare it with a number."
                    )
                    % {
                        "q": _who(i, q),
                        "what": self.what(field),
                        "ref": _who(j, self.qs[j]),
                        "value": literal,
                    },
                )


def _version(a: Applies) -> str:
    return _("urban version") if a == Applies.URBAN else _("rural version")


def check_form(form: FormSpec) -> list[Problem]:
    """Every problem of the form, in the order of the questions ([] : the form is fine)."""
    return _FormChecker(form).run()


# --- The answers ----------------------------------------------------------------------------


class _Empty:
    __slots__ = ()


_EMPTY = _Empty()


class _Bad:
    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


Cleaner = Callable[[object], object]  # -> the clean value, _EMPTY or _Bad
_INT_RE = re.compile(r"[+-]?[0-9]{1,16}\Z")
_DEC_RE = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})\Z")


def _clean_integer(v: object) -> object:
    if type(v) is int:
        n = v
    elif isinstance(v, str):
        s = v.strip()
        if not s:
            return _EMPTY
        if not _INT_RE.match(s):
            return _Bad(_("This must be a whole number."))
        n = int(s)
    elif v is None:
        return _EMPTY
    elif isinstance(v, int) and not isinstance(v, bool):
        n = int(v)
    else:
        return _Bad(_("This must be a whole number."))
    if abs(n) > MAX_INTEGER:
        return _Bad(_("This number is too large."))
    return n


def _decimal_text(d: Decimal) -> str:
    d = d.normalize()
    if d == 0:
        return "0"
    return format(d, "f")


def _clean_decimal(v: object) -> object:
    t = type(v)
    try:
        if t is str or isinstance(v, str):
            s = str(v).strip()
            if not s:
                return _EMPTY
            if not _DEC_RE.match(s):
                return _Bad(_("This must be a number."))
            d = Decimal(s)
        elif v is None:
            return _EMPTY
        elif t is bool:
            return _Bad(_("This must be a number."))
        elif isinstance(v, int):
            d = Decimal(v)
        elif isinstance(v, float):
            d = Decimal(repr(v))
        elif isinstance(v, Decimal):
            d = v
        else:
            return _Bad(_("This must be a number."))
    except (InvalidOperation, ValueError, OverflowError):
        return _Bad(_("This must be a number."))
    if not d.is_finite():
        return _Bad(_("This must be a number."))
    if abs(d) >= MAX_DECIMAL:
        return _Bad(_("This number is too large."))
    d = d.normalize()
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        return _Bad(
            _("This number has more than %(n)d decimal places.") % {"n": MAX_DECIMAL_PLACES}
        )
    return _decimal_text(d)


def _clean_text(v: object) -> object:
    if v is None:
        return _EMPTY
    if not isinstance(v, str):
        return _Bad(_("This must be a text."))
    s = v.strip()
    if not s:
        return _EMPTY
    if len(s) > MAX_TEXT_ANSWER:
        return _Bad(_("This text is longer than %(max)d characters.") % {"max": MAX_TEXT_ANSWER})
    return s


def _clean_note(v: object) -> object:
    if v is None or v == "" or v == []:
        return _EMPTY
    return _Bad(_("This is a note: it takes no answer."))


def _one_of(choices: tuple[str, ...]) -> Cleaner:
    allowed = frozenset(choices)

    def bad() -> _Bad:
        return _Bad(
            _("This must be one of its choices: %(choices)s.") % {"choices": ", ".join(choices)}
        )

    def clean(v: object) -> object:
        if v is None:
            return _EMPTY
        if not isinstance(v, str):
            return bad()
        s = v.strip() if v not in allowed else v
        if s in allowed:
            return s
        return _EMPTY if not s else bad()

    return clean


def _many_of(choices: tuple[str, ...]) -> Cleaner:
    order = {name: k for k, name in enumerate(choices)}

    def bad() -> _Bad:
        return _Bad(
            _("This must be a list of different choices among: %(choices)s.")
            % {"choices": ", ".join(choices)}
        )

    def clean(v: object) -> object:
        if v is None:
            return _EMPTY
        if type(v) is not list and type(v) is not tuple:
            return bad()
        if not v:
            return _EMPTY
        picked: list[str] = []
        for item in v:
            if not isinstance(item, str):
                return bad()
            s = item.strip()
            if s not in order or s in picked:
                return bad()
            picked.append(s)
        picked.sort(key=order.__getitem__)
        return picked

    return clean


def _cleaner(t: QType, choices: tuple[str, ...]) -> Cleaner:
    if t == QType.INTEGER:
        return _clean_integer
    if t == QType.DECIMAL:
        return _clean_decimal
    if t == QType.TEXT:
        return _clean_text
    if t == QType.NOTE:
        return _clean_note
    if t == QType.SELECT_MULTIPLE:
        return _many_of(choices)
    return _one_of(choices)


@dataclass(frozen=True)
class _Compiled:
    name: str
    required: bool
    relevant: logic.Condition | None
    constraint: logic.Condition | None
    clean: Cleaner
    message_zh: str
    message_en: str


class CompiledForm:
    """A form ready to check many households' answers: build once (``compile_form``), reuse.

    The form should be one ``check_form`` accepts; an expression that cannot be read raises
    ``logic.ExpressionError`` and a type that is not a ``QType`` ``ValueError`` here.
    """

    def __init__(self, form: FormSpec) -> None:
        compiled: list[_Compiled] = []
        for q in form.questions:
            t = QType(q.type)
            choices = tuple(q.choice_names())
            relevant = logic.compile_expr(logic.parse(q.relevant)) if q.relevant else None
            constraint = None
            if q.constraint and t != QType.NOTE:
                constraint = logic.compile_expr(logic.parse(q.constraint, allow_dot=True))
            compiled.append(
                _Compiled(
                    q.name,
                    bool(q.required) and t != QType.NOTE,
                    relevant,
                    constraint,
                    _cleaner(t, choices),
                    q.constraint_message_zh or "",
                    q.constraint_message_en or "",
                )
            )
        self.questions: tuple[_Compiled, ...] = tuple(compiled)
        self._by_name: dict[str, _Compiled] = {}
        for c in compiled:
            self._by_name.setdefault(c.name, c)

    @property
    def names(self) -> Iterable[str]:
        return self._by_name.keys()

    def validate(self, answers: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
        """``(clean answers, {question name: what is wrong})`` in one pass."""
        cleaned: dict[str, object] = {}
        errors: dict[str, str] = {}
        by_name = self._by_name
        for name, value in answers.items():
            c = by_name.get(name)
            if c is None:
                errors[str(name)] = _("This is not a question of this version.")
                continue
            v = c.clean(value)
            if v is _EMPTY:
                continue
            if type(v) is _Bad:
                errors[name] = v.message
                continue
            cleaned[name] = v
        # The answers as the phone sees them: a skipped question has no answer (ODK clears it).
        seen: dict[str, object] = {}
        for c in self.questions:
            name = c.name
            if c.relevant is not None and not c.relevant(seen, None):
                if name in cleaned:
                    errors[name] = _("This question is answered although it is skipped.")
                continue
            if name in cleaned:
                v = cleaned[name]
                if c.constraint is not None and not c.constraint(seen, v):
                    errors[name] = self._constraint_message(c)
                seen[name] = v
            elif c.required and name not in errors:
                errors[name] = _("This question must be answered.")
        return cleaned, errors

    def check(self, answers: Mapping[str, object]) -> dict[str, str]:
        """``{question name: translated message}`` for what is wrong ({} : all fine)."""
        return self.validate(answers)[1]

    def clean(self, answers: Mapping[str, object]) -> dict[str, object]:
        """The normalised answers (see the module's docstring); what does not fit is left out."""
        cleaned: dict[str, object] = {}
        by_name = self._by_name
        for name, value in answers.items():
            c = by_name.get(name)
            if c is None:
                continue
            v = c.clean(value)
            if v is not _EMPTY and type(v) is not _Bad:
                cleaned[name] = v
        return cleaned

    @staticmethod
    def _constraint_message(c: _Compiled) -> str:
        language = get_language() or ""
        if language.startswith("zh"):
            message = c.message_zh or c.message_en
        else:
            message = c.message_en or c.message_zh
        return message or _("This answer is not valid.")


def compile_form(form: FormSpec) -> CompiledForm:
    return CompiledForm(form)


def check_answers(form: FormSpec, answers: Mapping[str, object]) -> dict[str, str]:
    """What is wrong with one household's answers to the (place-filtered) form. For many
    households compile the form once with ``compile_form`` instead."""
    return CompiledForm(form).check(answers)


def clean_answers(form: FormSpec, answers: Mapping[str, object]) -> dict[str, object]:
    """One household's answers normalised (see the module's docstring)."""
    return CompiledForm(form).clean(answers)
