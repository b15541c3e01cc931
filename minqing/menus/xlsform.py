"""XLSForm in and out: the format of ODK, KoboToolbox and Ona, read and written through pyxform.

Reading (``read_xlsform``) takes an .xlsx, .xlsm, .xls, .csv or .md XLSForm. It first lets
pyxform (``pyxform.xls2xform.convert(..., validate=False)``: ODK Validate needs Java and is not
run) convert the file, so that what we accept is a form ODK accepts too; then it walks the
sheets itself to build a ``FormSpec``, refusing everything the product cannot ask at a door
(repeats, locations, photos, dates, calculations, external data …) and listing, as notices,
what it deliberately leaves out (the metadata ODK records by itself, columns such as
``appearance``, labels in a third language). Nothing is dropped silently. Last,
``minqing.menus.checks.check_form`` checks names, labels, choices and skip logic; its problems
become refusals on the question's row and column.

Rows are numbered as the spreadsheet shows them (the header is row 1); the rows are those
pyxform reads, so the numbers agree with pyxform's own messages. In .csv and .md forms, where
pyxform skips blank lines, a row is the n-th non-blank line of its sheet plus one.

Which language a column is: ``label::Chinese (zh)``, ``label::中文 (zh)``, ``label::zh`` are
Chinese, ``label::English (en)``, ``label::en``, ``label:english`` English; a plain ``label``
is the settings' ``default_language`` when one is set, else Chinese (the product is Chinese
first). The same holds for ``hint``, ``constraint_message`` and ``guidance_hint`` (which
becomes the visitor's note, 走访提示).

Writing (``write_xlsform``) gives an .xlsx pyxform converts, such that reading it back gives
the same ``FormSpec`` when the form is in its written order: each theme is one
``begin_group``/``end_group`` (in ``form.themes`` order, then the themes not listed in order of
first appearance), the questions without a theme come first, at the top level, and the
greeting is a first ``note`` named ``greeting``.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.utils.translation import gettext as _

from minqing.menus.checks import Problem, check_form
from minqing.menus.errors import MenuErrorCode
from minqing.menus.spec import (
    CHOICE_TYPES,
    FIXED_CHOICES,
    MAX_NAME,
    Applies,
    Choice,
    FormSpec,
    QType,
    QuestionSpec,
)

__all__ = ["ReadResult", "Refusal", "XLSFormRefused", "read_xlsform", "write_xlsform"]

SURVEY = "survey"
CHOICES = "choices"
SETTINGS = "settings"

NAME_RE = re.compile(rf"^[A-Za-z_][A-Za-z0-9_]{{0,{MAX_NAME - 1}}}$")

#: The greeting (``FormSpec.greeting``) is written as a first note of this name.
GREETING_NAME = "greeting"
#: The custom survey columns: which version carries a question, and its theme.
APPLIES_COLUMN = "minqing_applies"
THEME_COLUMN = "minqing_theme"
#: The languages of the written file.
ZH = "Chinese (zh)"
EN = "English (en)"

_TRUE = frozenset({"yes", "true", "true()", "1"})
_FALSE = frozenset({"no", "false", "false()", "0", ""})

_SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


# --------------------------------------------------------------------------------------------
# What a reading gives back


@dataclass(frozen=True)
class Refusal:
    """One thing wrong (or, as a notice, left out) in an XLSForm, where the user finds it."""

    sheet: str  # "survey", "choices", "settings" or "" for the whole file
    row: int | None  # the spreadsheet row number as Excel shows it (header is row 1)
    column: str  # the column's header as written, e.g. "type", "label::Chinese (zh)"
    reason: str  # translated: what is wrong and, where it helps, what to do
    code: str  # a MenuErrorCode value

    def __str__(self) -> str:
        where = {"sheet": self.sheet, "row": self.row, "column": self.column}
        args = {**where, "reason": self.reason}
        if self.sheet and self.row is not None and self.column:
            return _("%(sheet)s row %(row)d, %(column)s: %(reason)s") % args
        if self.sheet and self.row is not None:
            return _("%(sheet)s row %(row)d: %(reason)s") % args
        if self.sheet and self.column:
            return _("%(sheet)s, %(column)s: %(reason)s") % args
        if self.sheet:
            return _("%(sheet)s: %(reason)s") % args
        if self.row is not None and self.column:
            return _("row %(row)d, %(column)s: %(reason)s") % args
        return self.reason


class XLSFormRefused(Exception):
    """The file is not a form the product can take; ``refusals`` says every reason found."""

    def __init__(self, refusals: list[Refusal]) -> None:
        assert refusals
        self.refusals = refusals
        super().__init__("; ".join(str(r) for r in refusals))


@dataclass
class ReadResult:
    form: FormSpec
    notices: list[Refusal]  # what was deliberately not imported (harmless), listed


def _pyxform(module: str) -> Any:
    """A pyxform module (imported when first needed; pyxform has no type hints)."""
    return importlib.import_module(f"pyxform.{module}")


# --------------------------------------------------------------------------------------------
# Question types


#: XLSForm types (pyxform's names and aliases) the product asks as they are.
_PLAIN_TYPES = {
    "text": QType.TEXT,
    "string": QType.TEXT,
    "phone number": QType.TEXT,
    "q string": QType.TEXT,
    "add text prompt": QType.TEXT,
    "integer": QType.INTEGER,
    "int": QType.INTEGER,
    "q int": QType.INTEGER,
    "add integer prompt": QType.INTEGER,
    "decimal": QType.DECIMAL,
    "q decimal": QType.DECIMAL,
    "add decimal prompt": QType.DECIMAL,
    "note": QType.NOTE,
    "q note": QType.NOTE,
    "add note prompt": QType.NOTE,
}
#: Metadata ODK records without asking: not imported (the product records times itself).
_META_TYPES = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "imei",
        "device id",
        "get device id",
        "uri:deviceid",
        "username",
        "uri:username",
        "phonenumber",
        "uri:phonenumber",
        "get phone number",
        "simserial",
        "uri:simserial",
        "sim id",
        "get sim id",
        "subscriberid",
        "subscriber id",
        "uri:subscriberid",
        "get subscriber id",
        "email",
        "uri:email",
        "audit",
        "start time",
        "end time",
        "get start time",
        "get end time",
        "get today",
        "start-geopoint",
    }
)
_CALCULATE_TYPES = frozenset({"calculate", "q calculate", "add calculate prompt", "hidden"})
_EXTERNAL_TYPES = frozenset({"xml-external", "csv-external"})

_RE_CONTROL = re.compile(
    r"^(?P<end>begin|end)[ _](?P<kind>group|repeat|lgroup|loop|looped group)(\s+\S.*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Type:
    kind: str  # "question", "begin", "end", "meta", "refused", "unknown"
    qtype: QType | None = None
    list_name: str = ""
    control: str = ""  # "group" / "repeat" for begin and end
    reason: str = ""  # for "refused"


def _refused_type(reason: str) -> _Type:
    return _Type("refused", reason=reason)


def _parse_type(raw: str) -> _Type:
    aliases = _pyxform("aliases")
    QUESTION_TYPE_DICT = _pyxform("question_type_dictionary").QUESTION_TYPE_DICT
    RE_SELECT = _pyxform("xls2json").RE_SELECT

    text = " ".join(raw.split())
    low = text.lower()
    control = _RE_CONTROL.match(text)
    if control:
        kind = "group" if control["kind"].lower() == "group" else "repeat"
        return _Type("begin" if control["end"].lower() == "begin" else "end", control=kind)
    select = RE_SELECT.match(text)
    if select:
        command = select["select_command"]
        if command in aliases.select_from_file or aliases.select[command] in {
            "select one external",
        }:
            return _refused_type(
                _(
                    "Choice lists from a file or from external data (%(type)s) are not "
                    "supported: put the choices on the choices sheet."
                )
                % {"type": text}
            )
        if aliases.select[command] == "rank":
            return _refused_type(_("Ranking questions (rank) are not supported."))
        if select["specify_other"]:
            return _refused_type(
                _(
                    "“or_other” is not supported: add an “other” choice and a text question "
                    "asked when it is chosen."
                )
            )
        qtype = QType.SELECT_ONE if aliases.select[command] == "select one" else None
        return _Type("question", qtype or QType.SELECT_MULTIPLE, list_name=select["list_name"])
    if low.split(" ")[0] in {"select_one", "select_multiple", "select1"} and " " not in low:
        return _refused_type(_("This choice question names no choice list (select_one LIST)."))
    if low.startswith(("select_one_from_file", "select_multiple_from_file")):
        return _refused_type(
            _(
                "Choice lists from a file or from external data (%(type)s) are not "
                "supported: put the choices on the choices sheet."
            )
            % {"type": text}
        )
    if low.startswith("osm"):
        return _refused_type(
            _("Photo, audio, video, file and barcode questions (%(type)s) are not supported.")
            % {"type": text}
        )
    text = aliases._type_alias_map.get(text, text)
    if text in _PLAIN_TYPES:
        return _Type("question", _PLAIN_TYPES[text])
    if text in _META_TYPES:
        return _Type("meta")
    if text in _CALCULATE_TYPES:
        return _refused_type(_("Calculated fields (%(type)s) are not supported.") % {"type": text})
    if text in _EXTERNAL_TYPES:
        return _refused_type(_("External data (%(type)s) is not supported.") % {"type": text})
    if text == "range":
        return _refused_type(
            _("Range questions are not supported: use a whole number with a constraint.")
        )
    known = QUESTION_TYPE_DICT.get(text)
    if known is None:
        return _Type("unknown")
    bind_type = known.get("bind", {}).get("type", "")
    tag = known.get("control", {}).get("tag", "")
    if bind_type in {"geopoint", "geotrace", "geoshape"}:
        return _refused_type(_("Location questions (%(type)s) are not supported.") % {"type": text})
    if bind_type in {"binary", "barcode"}:
        return _refused_type(
            _("Photo, audio, video, file and barcode questions (%(type)s) are not supported.")
            % {"type": text}
        )
    if bind_type in {"date", "time", "dateTime"}:
        return _refused_type(
            _(
                "Date and time questions (%(type)s) are not supported: ask for a number or a "
                "short text instead."
            )
            % {"type": text}
        )
    if tag == "trigger" or text == "trigger":
        return _refused_type(
            _("Acknowledge questions (%(type)s) are not supported: use a yes/no question.")
            % {"type": text}
        )
    return _refused_type(_("The question type “%(type)s” is not supported.") % {"type": text})


# --------------------------------------------------------------------------------------------
# Columns


@dataclass(frozen=True)
class _Col:
    header: str  # as written
    field: str  # what it is (see _survey_field); "" for a column not imported
    lang: str = ""  # "plain", "zh", "en" or "other" for the translatable fields
    refusal: str = ""  # why a value in it is refused


_TRANSLATABLE = frozenset({"label", "hint", "guidance_hint", "constraint_message"})


def _lang(token: str) -> str:
    """ "zh", "en" or "other" for a column's language part ("Chinese (zh)", "en", "中文" …)."""
    token = token.strip()
    m = re.search(r"\(([^()]*)\)\s*$", token)
    code = (m.group(1) if m else token).strip().lower().replace("_", "-")
    name = token[: m.start()].strip().lower() if m else token.lower()
    if code == "zh" or code.startswith("zh-") or "chinese" in name or "中文" in name:
        return "zh"
    if name in {"汉语", "简体中文", "普通话", "chinese"}:
        return "zh"
    if code == "en" or code.startswith("en-") or name in {"english", "英文", "英语"}:
        return "en"
    return "other"


def _tokens(header: str, double_colon: bool, sheet: str) -> tuple[str, ...]:
    """The header as pyxform reads it: de-aliased, split on ``::`` (or ``:``)."""
    aliases = _pyxform("aliases")
    process_header = _pyxform("parsing.sheet_headers").process_header
    question = _pyxform("question")
    MultipleChoiceQuestion, Option = question.MultipleChoiceQuestion, question.Option

    if sheet == CHOICES:
        known, header_aliases = set(Option.get_slot_names()), aliases.list_header
    else:
        known, header_aliases = set(MultipleChoiceQuestion.get_slot_names()), aliases.survey_header
    return tuple(process_header(header, double_colon, header_aliases, known)[1])


def _survey_col(header: str, double_colon: bool, plain_lang: str) -> _Col:
    tokens = _tokens(header, double_colon, SURVEY)
    first, rest = tokens[0], tokens[1:]
    simple = {
        ("type",): "type",
        ("name",): "name",
        ("bind", "relevant"): "relevant",
        ("bind", "constraint"): "constraint",
        ("bind", "required"): "required",
        ("disabled",): "disabled",
        (APPLIES_COLUMN,): "applies",
        (THEME_COLUMN,): "theme",
    }
    if tokens in simple:
        return _Col(header, simple[tokens])
    if first == "bind" and rest and rest[0] == "jr:constraintMsg":
        first, rest = "constraint_message", rest[1:]
    if first in _TRANSLATABLE and len(rest) <= 1:
        return _Col(header, first, _lang(rest[0]) if rest else plain_lang)
    refused = {
        ("bind", "calculate"): _("Calculations are not supported."),
        ("bind", "readonly"): _("Read-only questions are not supported."),
        ("control", "jr:count"): _("Repeats (repeat_count) are not supported."),
        ("choice_filter",): _("Filtered choice lists (choice_filter) are not supported."),
        ("parameters",): _("Question parameters are not supported."),
        ("default",): _("Default answers are not supported."),
        ("trigger",): _("Triggers (recalculating on another answer) are not supported."),
    }
    if tokens in refused:
        return _Col(header, "refused", refusal=refused[tokens])
    if first == "media":
        return _Col(
            header,
            "refused",
            refusal=_("Images, audio and video in questions are not supported."),
        )
    return _Col(header, "")


def _choices_col(header: str, double_colon: bool, plain_lang: str) -> _Col:
    tokens = _tokens(header, double_colon, CHOICES)
    if tokens in {("list name",), ("list_name",)}:
        return _Col(header, "list_name")
    if tokens == ("name",):
        return _Col(header, "name")
    if tokens[0] == "label" and len(tokens) <= 2:
        return _Col(header, "label", _lang(tokens[1]) if len(tokens) == 2 else plain_lang)
    if tokens[0] == "media":
        return _Col(
            header,
            "refused",
            refusal=_("Images, audio and video in choices are not supported."),
        )
    return _Col(header, "")


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class _Sheet:
    name: str
    headers: list[str]
    rows: list[dict[str, str]]  # rows[i] is spreadsheet row i + 2
    cols: list[_Col] = field(default_factory=list)

    def by_field(self, name: str) -> list[_Col]:
        return [c for c in self.cols if c.field == name]

    def header(self, name: str, default: str) -> str:
        cols = self.by_field(name)
        return cols[0].header if cols else default


def _sheet(data: Any, name: str) -> _Sheet | None:
    rows = getattr(data, name)
    head = getattr(data, f"{name}_header")
    if rows is None and not head:
        return None
    headers = list(head[0]) if head else []
    for row in rows or ():
        headers.extend(h for h in row if h not in headers)
    return _Sheet(name, [h for h in headers if isinstance(h, str)], [dict(r) for r in rows or ()])


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _expression(value: str) -> str:
    """An expression as pyxform reads it: smart quotes (from word processors) made plain."""
    return value.translate(_SMART_QUOTES)


_FORBIDDEN_FUNCTIONS = (
    ("pulldata", re.compile(r"\bpulldata\s*\(")),
    ("instance", re.compile(r"(?<![\w:-])instance\s*\(")),
    ("jr:choice-name", re.compile(r"jr:choice-name\s*\(")),
    ("indexed-repeat", re.compile(r"\bindexed-repeat\s*\(")),
)


@dataclass
class _Frame:
    control: str  # "group" or "repeat"
    row: int
    theme: str
    relevant: str
    relevant_header: str


@dataclass
class _Where:
    """Where a built question came from, to place check_form's problems."""

    row: int
    headers: dict[str, str]  # field -> the header its value came from (or the first such)
    group_relevant: tuple[int, str] | None  # the innermost group row with a relevant, header
    own_relevant: bool  # the question's own row has a relevant


class _Reader:
    def __init__(self, data: Any, stem: str) -> None:
        self.data = data
        self.stem = stem
        self.refusals: list[Refusal] = []
        self.notices: list[Refusal] = []
        self._noticed: set[tuple[str, str]] = set()

    # -- helpers ---------------------------------------------------------------------------

    def refuse(self, sheet: str, row: int | None, column: str, reason: str, code: str) -> None:
        self.refusals.append(Refusal(sheet, row, column, reason, code))

    def unsupported(self, sheet: str, row: int | None, column: str, reason: str) -> None:
        self.refuse(sheet, row, column, reason, MenuErrorCode.XLSFORM_UNSUPPORTED)

    def invalid(self, sheet: str, row: int | None, column: str, reason: str) -> None:
        self.refuse(sheet, row, column, reason, MenuErrorCode.XLSFORM_INVALID)

    def notice(self, sheet: str, row: int | None, column: str, reason: str, once: bool = False):
        if once:
            if (sheet, column) in self._noticed:
                return
            self._noticed.add((sheet, column))
        self.notices.append(Refusal(sheet, row, column, reason, MenuErrorCode.XLSFORM_UNSUPPORTED))

    def texts(self, sheet: _Sheet, row: dict[str, str], n: int, fld: str) -> dict[str, str]:
        """{"zh": …, "en": …} for a translatable field, and where each came from."""
        out: dict[str, str] = {}
        for col in sheet.by_field(fld):
            value = _text(row.get(col.header))
            if not value:
                continue
            if col.lang == "other":
                self.notice(
                    sheet.name,
                    n,
                    col.header,
                    _(
                        "Texts in this language are not imported (only Chinese and English "
                        "are); the column is first used on this row."
                    ),
                    once=True,
                )
                continue
            if col.lang in out:
                if out[col.lang] != value:
                    self.notice(
                        sheet.name,
                        n,
                        col.header,
                        _("Another column already gives this text; this one was not imported."),
                    )
                continue
            out[col.lang] = value
            out[col.lang + "@"] = col.header
        return out

    def check_columns(self, sheet: _Sheet, row: dict[str, str], n: int) -> None:
        """Refused columns with a value, and the notice for columns not imported."""
        for col in sheet.cols:
            if not _text(row.get(col.header)):
                continue
            if col.field == "refused":
                self.unsupported(sheet.name, n, col.header, col.refusal)
            elif col.field == "":
                self.notice(
                    sheet.name,
                    n,
                    col.header,
                    _("This column is not imported; it is first used on this row."),
                    once=True,
                )

    def check_expression(self, sheet: str, n: int, header: str, value: str) -> bool:
        for name, pattern in _FORBIDDEN_FUNCTIONS:
            if pattern.search(value):
                self.unsupported(
                    sheet,
                    n,
                    header,
                    _("%(function)s() is not supported in expressions.") % {"function": name},
                )
                return False
        return True

    # -- sheets ------------------------------------------------------------------------------

    def read(self) -> tuple[FormSpec, list[_Where]] | None:
        names = [str(s) for s in self.data.sheet_names or ()]
        lower = {s.lower(): s for s in names}
        for sheet, reason in (
            ("entities", _("Entities (the entities sheet) are not supported.")),
            (
                "external_choices",
                _("External choice lists (the external_choices sheet) are not supported."),
            ),
        ):
            if sheet in lower:
                self.unsupported(lower[sheet], None, "", reason)
        known = {SURVEY, CHOICES, SETTINGS, "entities", "external_choices"}
        if len(names) > 1:
            for s in names:
                if s.lower() not in known:
                    self.notice(s, None, "", _("This sheet is not part of an XLSForm; not read."))
        survey = _sheet(self.data, SURVEY)
        if survey is None or not survey.rows:
            self.invalid("", None, "", _("The file has no survey sheet, or it is empty."))
            return None
        settings = self.read_settings()
        plain = (
            _lang(settings.get("default_language", ""))
            if settings.get("default_language")
            else "zh"
        )
        double = any("::" in h for h in survey.headers)
        survey.cols = [_survey_col(h, double, plain) for h in survey.headers]
        if not survey.by_field("type"):
            self.invalid(SURVEY, 1, "", _("The survey sheet has no “type” column."))
            return None
        lists, list_rows = self.read_choices(plain)
        return self.read_survey(survey, settings, lists, list_rows)

    def read_settings(self) -> dict[str, str]:
        sheet = _sheet(self.data, SETTINGS)
        out: dict[str, str] = {}
        if sheet is None:
            return out
        keys = {
            "form_title": "title",
            "set_form_title": "title",
            "form_id": "form_id",
            "set_form_id": "form_id",
            "version": "version",
            "default_language": "default_language",
        }
        for i, row in enumerate(sheet.rows):
            n = i + 2
            for header, value in row.items():
                if not _text(value):
                    continue
                key = keys.get(header.strip().lower())
                if i > 0:
                    self.notice(SETTINGS, n, header, _("Only the first settings row is read."))
                elif key is None:
                    self.notice(SETTINGS, n, header, _("This setting is not imported."))
                else:
                    out[key] = _text(value)
        return out

    def read_choices(self, plain: str) -> tuple[dict[str, list[Choice]], dict[str, int]]:
        lists: dict[str, list[Choice]] = {}
        list_rows: dict[str, int] = {}
        sheet = _sheet(self.data, CHOICES)
        if sheet is None:
            return lists, list_rows
        double = any("::" in h for h in sheet.headers)
        sheet.cols = [_choices_col(h, double, plain) for h in sheet.headers]
        list_header = sheet.header("list_name", "list_name")
        name_header = sheet.header("name", "name")
        seen: dict[tuple[str, str], int] = {}
        for i, row in enumerate(sheet.rows):
            n = i + 2
            if not any(_text(v) for v in row.values()):
                continue
            self.check_columns(sheet, row, n)
            list_name = _text(row.get(list_header))
            name = _text(row.get(name_header))
            if not list_name:
                self.invalid(CHOICES, n, list_header, _("This choice has no list_name."))
                continue
            if not name:
                self.invalid(CHOICES, n, name_header, _("This choice has no name."))
                continue
            first = seen.get((list_name, name))
            if first is not None:
                self.invalid(
                    CHOICES,
                    n,
                    name_header,
                    _("The choice %(name)s is already in the list %(list)s, on row %(row)d.")
                    % {"name": name, "list": list_name, "row": first},
                )
                continue
            seen[(list_name, name)] = n
            labels = self.texts(sheet, row, n, "label")
            lists.setdefault(list_name, []).append(
                Choice(name, labels.get("zh", ""), labels.get("en", ""))
            )
            list_rows.setdefault(list_name, n)
        return lists, list_rows

    def read_survey(
        self,
        sheet: _Sheet,
        settings: dict[str, str],
        lists: dict[str, list[Choice]],
        list_rows: dict[str, int],
    ) -> tuple[FormSpec, list[_Where]]:
        questions: list[QuestionSpec] = []
        wheres: list[_Where] = []
        names: dict[str, int] = {}
        stack: list[_Frame] = []
        themes: list[str] = []
        used_lists: set[str] = set()
        greeting = ""
        type_header = sheet.header("type", "type")
        name_header = sheet.header("name", "name")

        def one(row: dict[str, str], fld: str) -> tuple[str, str]:
            cols = sheet.by_field(fld)
            for col in cols:
                value = _text(row.get(col.header))
                if value:
                    return value, col.header
            return "", cols[0].header if cols else fld

        for i, row in enumerate(sheet.rows):
            n = i + 2
            if not any(_text(v) for v in row.values()):
                continue
            disabled, disabled_header = one(row, "disabled")
            if disabled.lower() in _TRUE:
                self.notice(SURVEY, n, disabled_header, _("This row is disabled; not imported."))
                continue
            raw_type = _text(row.get(type_header))
            name = _text(row.get(name_header))
            labels = self.texts(sheet, row, n, "label")
            if not raw_type:
                if name or labels:
                    self.invalid(SURVEY, n, type_header, _("This row has no type."))
                else:
                    self.notice(
                        SURVEY,
                        n,
                        type_header,
                        _("This row has no type and was read as a comment; not imported."),
                    )
                continue
            qtype = _parse_type(raw_type)
            if qtype.kind == "meta":
                self.notice(
                    SURVEY,
                    n,
                    type_header,
                    _(
                        "Metadata (%(type)s) is not imported: the product records times and "
                        "devices itself."
                    )
                    % {"type": raw_type},
                )
                continue
            self.check_columns(sheet, row, n)
            relevant, relevant_header = one(row, "relevant")
            relevant = _expression(relevant)
            relevant_ok = not relevant or self.check_expression(
                SURVEY, n, relevant_header, relevant
            )
            if qtype.kind == "end":
                if stack and stack[-1].control == qtype.control:
                    stack.pop()
                else:
                    self.invalid(
                        SURVEY,
                        n,
                        type_header,
                        _("%(type)s has no matching begin above it.") % {"type": raw_type},
                    )
                continue
            if qtype.kind == "begin":
                if qtype.control == "repeat":
                    self.unsupported(
                        SURVEY, n, type_header, _("Repeated groups (repeats) are not supported.")
                    )
                theme_override, _h = one(row, "theme")
                theme = theme_override or labels.get("zh") or labels.get("en") or name
                if stack and labels:
                    self.notice(
                        SURVEY,
                        n,
                        labels.get("zh@") or labels.get("en@") or "",
                        _(
                            "Only the outermost group becomes a theme; this inner group's "
                            "label is not imported."
                        ),
                    )
                if not stack and theme and theme not in themes:
                    themes.append(theme)
                stack.append(
                    _Frame(
                        qtype.control, n, theme, relevant if relevant_ok else "", relevant_header
                    )
                )
                continue
            if qtype.kind == "refused":
                self.unsupported(SURVEY, n, type_header, qtype.reason)
                continue
            if qtype.kind == "unknown":
                self.invalid(
                    SURVEY,
                    n,
                    type_header,
                    _("Unknown question type “%(type)s”.") % {"type": raw_type},
                )
                continue
            assert qtype.qtype is not None
            kind = qtype.qtype
            headers = {"type": type_header, "name": name_header}
            # name
            if not name:
                if kind == QType.NOTE:
                    name = f"note_{n}"
                else:
                    self.invalid(SURVEY, n, name_header, _("This question has no name."))
                    continue
            elif not NAME_RE.match(name):
                self.refuse(
                    SURVEY,
                    n,
                    name_header,
                    _(
                        "A question name must start with a letter or an underscore and hold "
                        "only letters, digits and underscores (at most %(max)d)."
                    )
                    % {"max": MAX_NAME},
                    MenuErrorCode.BAD_NAME,
                )
            if name in names:
                self.refuse(
                    SURVEY,
                    n,
                    name_header,
                    _("The name %(name)s is already used on row %(row)d.")
                    % {"name": name, "row": names[name]},
                    MenuErrorCode.DUPLICATE_NAME,
                )
                continue
            names[name] = n
            # choices
            choices: list[Choice] = []
            if qtype.list_name:
                used_lists.add(qtype.list_name)
                if qtype.list_name not in lists:
                    self.refuse(
                        SURVEY,
                        n,
                        type_header,
                        _("The choice list %(list)s is not on the choices sheet.")
                        % {"list": qtype.list_name},
                        MenuErrorCode.MISSING_CHOICES,
                    )
                    continue
                choices = list(lists[qtype.list_name])
                if kind == QType.SELECT_ONE:
                    choice_names = sorted(c.name for c in choices)
                    for fixed in (QType.YES_NO, QType.GOOD_FAIR_BAD):
                        if choice_names == sorted(c.name for c in FIXED_CHOICES[fixed]):
                            kind, choices = fixed, list(FIXED_CHOICES[fixed])
            # texts
            hints = self.texts(sheet, row, n, "hint")
            messages = self.texts(sheet, row, n, "constraint_message")
            guidance = self.texts(sheet, row, n, "guidance_hint")
            if "en" in guidance and "zh" in guidance:
                self.notice(
                    SURVEY,
                    n,
                    guidance["en@"],
                    _("The visitor's note is kept in Chinese only; this one was not imported."),
                )
            visitor_note = guidance.get("zh") or guidance.get("en", "")
            headers["label"] = labels.get("zh@") or self._first_header(sheet, "label", "zh")
            # required
            required_text, required_header = one(row, "required")
            if required_text.lower() not in _TRUE | _FALSE:
                self.unsupported(
                    SURVEY,
                    n,
                    required_header,
                    _("“required” must be yes or no: a conditional required is not supported."),
                )
            required = required_text.lower() in _TRUE
            # expressions
            constraint, constraint_header = one(row, "constraint")
            constraint = _expression(constraint)
            if constraint:
                self.check_expression(SURVEY, n, constraint_header, constraint)
            headers["relevant"] = relevant_header
            headers["applies"] = sheet.header("applies", APPLIES_COLUMN)
            headers["constraint"] = constraint_header
            group_parts = [f.relevant for f in stack if f.relevant]
            own = relevant if relevant_ok else ""
            parts = [*group_parts, own] if own else group_parts
            full_relevant = parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)
            group_relevant = next(
                ((f.row, f.relevant_header) for f in reversed(stack) if f.relevant), None
            )
            # applies, theme
            applies_text, applies_header = one(row, "applies")
            try:
                applies = Applies(applies_text.lower() or Applies.BOTH)
            except ValueError:
                self.invalid(
                    SURVEY,
                    n,
                    applies_header,
                    _("Must be urban, rural or both (blank means both)."),
                )
                applies = Applies.BOTH
            theme, _h = one(row, "theme")
            if not theme:
                theme = next((f.theme for f in stack), "")
            if theme and theme not in themes:
                themes.append(theme)
            question = QuestionSpec(
                name=name,
                type=kind,
                label_zh=labels.get("zh", ""),
                label_en=labels.get("en", ""),
                hint_zh=hints.get("zh", ""),
                hint_en=hints.get("en", ""),
                theme=theme,
                required=required,
                relevant=full_relevant,
                constraint=constraint,
                constraint_message_zh=messages.get("zh", ""),
                constraint_message_en=messages.get("en", ""),
                applies=applies,
                choices=choices,
                visitor_note=visitor_note,
            )
            if (
                not questions
                and not greeting
                and not stack
                and name == GREETING_NAME
                and kind == QType.NOTE
                and question.label_zh
                and question == QuestionSpec(GREETING_NAME, QType.NOTE, question.label_zh)
            ):
                greeting = question.label_zh
                continue
            questions.append(question)
            wheres.append(_Where(n, headers, group_relevant, bool(own)))
        for frame in stack:
            self.invalid(
                SURVEY,
                frame.row,
                type_header,
                _("This %(control)s has no matching end.") % {"control": f"begin_{frame.control}"},
            )
        for list_name, n in list_rows.items():
            if list_name not in used_lists:
                self.notice(
                    CHOICES,
                    n,
                    self._list_header(),
                    _("The choice list %(list)s is not used by any question; not imported.")
                    % {"list": list_name},
                )
        form = FormSpec(
            title=settings.get("title") or self.stem,
            questions=questions,
            form_id=settings.get("form_id") or self.stem,
            version=settings.get("version", ""),
            greeting=greeting,
            themes=themes,
        )
        return form, wheres

    def _first_header(self, sheet: _Sheet, fld: str, lang: str) -> str:
        """The first column of this field and language: where a missing text belongs."""
        cols = [c for c in sheet.by_field(fld) if c.lang == lang]
        return cols[0].header if cols else fld

    def _list_header(self) -> str:
        sheet = _sheet(self.data, CHOICES)
        if sheet is None:
            return "list_name"
        double = any("::" in h for h in sheet.headers)
        for h in sheet.headers:
            if _choices_col(h, double, "zh").field == "list_name":
                return h
        return "list_name"


# --------------------------------------------------------------------------------------------
# pyxform's conversion and its messages

_ROW_RE = re.compile(r"^\s*\[row\s*:\s*(\d+)\]\s*")
_SHEET_RE = re.compile(r"On the '(\w+)' sheet")
_COLUMN_RE = re.compile(r"the '([^']+)' value")


def _pyxform_refusal(message: str, data: Any) -> Refusal:
    """pyxform's message as a refusal, with its row: from the message's ``[row : N]`` or, when
    the message names none, from the survey row holding the name or type it quotes."""
    message = " ".join(str(message).split())
    m = _ROW_RE.match(message)
    row = int(m.group(1)) if m else None
    text = message[m.end() :] if m else message
    sheet_m = _SHEET_RE.search(text)
    sheet = sheet_m.group(1) if sheet_m else SURVEY
    column = ""
    survey = _sheet(data, SURVEY) if data is not None else None
    plain = "zh"
    if survey is not None:
        double = any("::" in h for h in survey.headers)
        survey.cols = [_survey_col(h, double, plain) for h in survey.headers]
    col_m = _COLUMN_RE.search(text)
    if col_m and sheet == SURVEY and survey is not None:
        wanted = col_m.group(1)
        cols = survey.by_field(wanted) or [c for c in survey.cols if c.header == wanted]
        column = cols[0].header if cols else wanted
    elif col_m:
        column = col_m.group(1)
    if row is None and survey is not None:
        row, column = _find_row(text, survey, column)
        if row is None:
            sheet = "" if not sheet_m else sheet
    reason = _("The XLSForm converter (pyxform) refused it: %(message)s") % {"message": text}
    return Refusal(sheet, row, column, reason, MenuErrorCode.XLSFORM_INVALID)


def _find_row(text: str, survey: _Sheet, column: str) -> tuple[int | None, str]:
    quoted = re.findall(r"'([^']+)'", text)
    type_header = survey.header("type", "type")
    name_header = survey.header("name", "name")
    for i, row in enumerate(survey.rows):
        if _text(row.get(name_header)) in quoted:
            return i + 2, column or name_header
    for i, row in enumerate(survey.rows):
        raw_type = " ".join(_text(row.get(type_header)).split())
        if raw_type and (raw_type in quoted or raw_type.split(" ")[-1] in quoted):
            return i + 2, column or type_header
    if "choices sheet" in text or "list name" in text.lower():
        for i, row in enumerate(survey.rows):
            if _text(row.get(type_header)).lower().startswith("select"):
                return i + 2, type_header
    return None, column


def _convert(data: Any) -> Refusal | None:
    convert = _pyxform("xls2xform").convert

    try:
        convert(xlsform=dataclasses.asdict(data), validate=False, warnings=[])
    except Exception as err:  # pyxform raises more than PyXFormError on odd input
        return _pyxform_refusal(str(err), data)
    return None


#: How far below the last row pyxform reads an .xlsx is looked at for rows it left out.
_LOOK_PAST_ROWS = 2000


def _xlsx_cells(blob: bytes, data: Any) -> list[Refusal]:
    """Refusals for what openpyxl sees in an .xlsx but pyxform does not read: formulas
    without a saved value, and rows after the run of empty rows where pyxform stops."""
    from openpyxl import load_workbook

    out: list[Refusal] = []
    try:
        wb = load_workbook(io.BytesIO(blob), read_only=True, data_only=False)
    except Exception:  # pyxform read it; this check is extra
        return out
    try:
        for title in wb.sheetnames:
            name = title.lower()
            if name not in {SURVEY, CHOICES, SETTINGS}:
                continue
            rows = getattr(data, name) or []
            headers: list[str] = []
            after_last = False
            # A sheet may claim a million rows: look a little past where pyxform stopped.
            last = len(rows) + 1 + _LOOK_PAST_ROWS
            for n, cells in enumerate(wb[title].iter_rows(max_row=last), start=1):
                if n == 1:
                    headers = [_text(c.value) for c in cells]
                    continue
                filled = [c for c in cells if c.value is not None and _text(c.value)]
                if not filled:
                    continue
                if n - 2 >= len(rows):
                    if not after_last:
                        out.append(
                            Refusal(
                                name,
                                n,
                                "",
                                _(
                                    "This row comes after a long run of empty rows and is not "
                                    "read: remove the empty rows above it."
                                ),
                                MenuErrorCode.XLSFORM_INVALID,
                            )
                        )
                        after_last = True
                    continue
                for c in filled:
                    if getattr(c, "data_type", "") != "f":
                        continue
                    col = getattr(c, "column", None)
                    header = (
                        headers[col - 1] if isinstance(col, int) and col <= len(headers) else ""
                    )
                    if header and header not in rows[n - 2]:
                        out.append(
                            Refusal(
                                name,
                                n,
                                header,
                                _(
                                    "This cell holds a formula with no saved value: paste the "
                                    "values instead."
                                ),
                                MenuErrorCode.XLSFORM_INVALID,
                            )
                        )
    finally:
        wb.close()
    return out


# --------------------------------------------------------------------------------------------
# The checks of minqing.menus.checks


def _check_form(form: FormSpec) -> list[Problem]:
    return check_form(form)


def _problem_refusal(problem: Problem, wheres: list[_Where]) -> Refusal:
    index, fld, message, code = problem.index, problem.field, problem.message, problem.code
    if not 0 <= index < len(wheres):
        return Refusal("", None, "", message, code)
    where = wheres[index]
    if fld == "relevant" and where.group_relevant and not where.own_relevant:
        row, column = where.group_relevant  # the condition is the group's
        return Refusal(SURVEY, row, column, message, code)
    column = where.headers.get("type" if fld == "choices" else fld, "")
    return Refusal(SURVEY, where.row, column, message, code)


# --------------------------------------------------------------------------------------------
# The public reading


_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".md", ".csv"}


def read_xlsform(source: str | Path | bytes | BinaryIO, filename: str = "") -> ReadResult:
    """The form in an XLSForm file (.xlsx, .xlsm, .xls, .csv or .md), or ``XLSFormRefused``
    listing every reason it cannot be taken, each on its sheet, row and column."""
    backends = _pyxform("xls2json_backends")
    Definition, definition_to_dict = backends.Definition, backends.definition_to_dict

    if isinstance(source, (str, Path)):
        path = Path(source)
        filename = filename or path.name
        try:
            blob = path.read_bytes()
        except OSError as err:
            raise XLSFormRefused([_unreadable(str(err))]) from err
    elif isinstance(source, (bytes, bytearray)):
        blob = bytes(source)
    else:
        blob = source.read()
    suffix = Path(filename).suffix.lower() if filename else ""
    stem = Path(filename).stem if filename else ""
    file_type = suffix if suffix in _SUFFIXES else None
    if file_type is None:
        file_type = ".xlsx" if blob[:2] == b"PK" else None
    try:
        data = definition_to_dict(Definition(io.BytesIO(blob), None, stem or None), file_type)
    except Exception as err:  # not an XLSForm at all (or pyxform fails on it while reading)
        raise XLSFormRefused([_read_error(str(err), blob)]) from err

    reader = _Reader(data, stem)
    refusals: list[Refusal] = []
    if file_type in {".xlsx", ".xlsm"}:
        refusals.extend(_xlsx_cells(blob, data))
    converted = _convert(data)
    built = reader.read()
    refusals.extend(reader.refusals)
    if built is not None:
        form, wheres = built
        for problem in _check_form(form):
            refusals.append(_problem_refusal(problem, wheres))
    if converted is not None:
        places = {(r.sheet, r.row) for r in refusals}
        if (converted.sheet, converted.row) not in places and (
            converted.row is not None or not refusals
        ):
            refusals.append(converted)
    if refusals:
        raise XLSFormRefused(_sorted(_unique(refusals)))
    assert built is not None
    return ReadResult(built[0], reader.notices)


def _unique(refusals: Iterable[Refusal]) -> list[Refusal]:
    """One refusal per sheet, row, column and code (the first: ours before check_form's)."""
    seen: set[tuple[str, int | None, str, str]] = set()
    out = []
    for r in refusals:
        key = (r.sheet, r.row, r.column, r.code)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _sorted(refusals: list[Refusal]) -> list[Refusal]:
    order = {"": 0, SETTINGS: 1, SURVEY: 2, CHOICES: 3}
    return sorted(refusals, key=lambda r: (order.get(r.sheet, 4), r.row or 0))


def _unreadable(message: str) -> Refusal:
    return Refusal(
        "",
        None,
        "",
        _("The file could not be read as an XLSForm (.xlsx, .xls, .csv or .md): %(message)s")
        % {"message": message},
        MenuErrorCode.XLSFORM_UNREADABLE,
    )


def _read_error(message: str, blob: bytes) -> Refusal:
    dup = re.match(r"Duplicate column header: (.*)$", message)
    if not dup:
        return _unreadable(message)
    header = dup.group(1).strip()
    sheet = ""
    try:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(blob), read_only=True)
        for title in wb.sheetnames:
            first = next(wb[title].iter_rows(max_row=1, values_only=True), ())
            if [_text(v) for v in first].count(header) > 1:
                sheet = title
                break
        wb.close()
    except Exception:  # not an .xlsx: the header row is still row 1
        sheet = ""
    return Refusal(
        sheet,
        1,
        header,
        _("Two columns have this header: keep one.") if header else message,
        MenuErrorCode.XLSFORM_INVALID,
    )


# --------------------------------------------------------------------------------------------
# Writing

SURVEY_COLUMNS = (
    "type",
    "name",
    f"label::{ZH}",
    f"label::{EN}",
    f"hint::{ZH}",
    f"hint::{EN}",
    "guidance_hint",
    "required",
    "relevant",
    "constraint",
    f"constraint_message::{ZH}",
    f"constraint_message::{EN}",
    APPLIES_COLUMN,
)
CHOICES_COLUMNS = ("list_name", "name", f"label::{ZH}", f"label::{EN}")
SETTINGS_COLUMNS = ("form_title", "form_id", "version", "default_language")

_FIXED_LISTS = {QType.YES_NO: "yes_no", QType.GOOD_FAIR_BAD: "good_fair_bad"}


def _theme_order(form: FormSpec) -> list[str]:
    used = [q.theme for q in form.questions if q.theme]
    order = [t for t in dict.fromkeys(form.themes) if t]
    order += [t for t in dict.fromkeys(used) if t not in order]
    return order


def _group_names(themes: list[str], taken: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, theme in enumerate(themes, start=1):
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", theme).strip("_")[:40]
        base = f"theme_{slug}" if slug else f"theme_{i}"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        out[theme] = name
    return out


def write_xlsform(form: FormSpec, out: str | Path | BinaryIO | IO[bytes]) -> None:
    """The form as an .xlsx XLSForm (sheets survey, choices and settings) pyxform converts."""
    from openpyxl import Workbook

    names = {q.name for q in form.questions}
    if form.greeting and GREETING_NAME in names:
        raise ValueError(f"a question is named {GREETING_NAME!r}, the greeting's name")
    wb = Workbook()
    survey = wb.active
    survey.title = SURVEY
    choices = wb.create_sheet(CHOICES)
    settings = wb.create_sheet(SETTINGS)
    _append(survey, SURVEY_COLUMNS)
    _append(choices, CHOICES_COLUMNS)
    _append(settings, SETTINGS_COLUMNS)
    _append(settings, (form.title, form.form_id, form.version, ZH))

    lists: dict[tuple[Choice, ...], str] = {}
    list_names: set[str] = set()

    def list_for(q: QuestionSpec) -> str:
        key = tuple(q.choices)
        if key in lists:
            return lists[key]
        name = _FIXED_LISTS.get(q.type) or f"{q.name}_choices"
        if name in list_names:  # a fixed list with other choices: never from check_form
            name = f"{q.name}_choices"
        list_names.add(name)
        lists[key] = name
        for c in q.choices:
            _append(choices, (name, c.name, c.label_zh, c.label_en))
        return name

    # The fixed lists first, under their own names, so that a select of the same choices
    # reuses them.
    for qtype in _FIXED_LISTS:
        if any(q.type == qtype for q in form.questions):
            list_for(QuestionSpec("", qtype, "", choices=list(FIXED_CHOICES[qtype])))

    def question_row(q: QuestionSpec) -> tuple[str, ...]:
        if q.type in CHOICE_TYPES:
            word = "select_multiple" if q.type == QType.SELECT_MULTIPLE else "select_one"
            type_text = f"{word} {list_for(q)}"
        else:
            type_text = str(q.type)
        return (
            type_text,
            q.name,
            q.label_zh,
            q.label_en,
            q.hint_zh,
            q.hint_en,
            q.visitor_note,
            "yes" if q.required else "",
            q.relevant,
            q.constraint,
            q.constraint_message_zh,
            q.constraint_message_en,
            "" if q.applies == Applies.BOTH else str(q.applies),
        )

    if form.greeting:
        _append(survey, ("note", GREETING_NAME, form.greeting))
    for q in form.questions:
        if not q.theme:
            _append(survey, question_row(q))
    themes = _theme_order(form)
    groups = _group_names(themes, set(names) | {GREETING_NAME})
    for theme in themes:
        _append(survey, ("begin_group", groups[theme], theme))
        for q in form.questions:
            if q.theme == theme:
                _append(survey, question_row(q))
        _append(survey, ("end_group", groups[theme]))
    wb.save(out)


def _append(sheet: Any, values: Iterable[object]) -> None:
    """A row of plain text cells: a text starting with "=" stays a text, not a formula."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    n = sheet.max_row + 1 if sheet.max_row > 1 or sheet.cell(1, 1).value is not None else 1
    for col, value in enumerate(values, start=1):
        text = ILLEGAL_CHARACTERS_RE.sub("", str(value)) if value not in (None, "") else None
        if text is None:
            continue
        cell = sheet.cell(row=n, column=col)
        cell.value = text
        cell.data_type = "s"
