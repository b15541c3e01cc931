"""One version of a menu on paper (纸质问卷), for visitors without a phone: an A4 PDF filled in
with a pen at the household's door and typed in afterwards.

Pure computation: a ``FormSpec`` and a ``PaperHeader`` in, PDF bytes out. The printed words are
Chinese, like the questions themselves (the form is read out at a door, not shown in the
reader's language). The font is the contact cards' embeddable CJK TrueType font
(``minqing.contacts.card_print.card_font``: ``MINQING_CJK_FONT``, else Debian's
``fonts-wqy-microhei``); without one ``CardFontMissing`` says what to install.

Layout: the header (county, title, version), the fields the visitor fills in (household,
visitor, date, how the visit went), the greeting script in a box, then the questions by theme,
numbered 1, 2, 3 … (notes, which have no answer, are not numbered). Each question is kept on
one page; skip logic is printed in words ("（第3题选“否”时回答）"); every page's footer names
the version code, so a typed-in form says which version it answered.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.platypus import Flowable

from minqing.contacts.card_print import card_font
from minqing.menus.spec import (
    CHOICE_TYPES,
    FIXED_CHOICES,
    NUMBER_TYPES,
    Choice,
    FormSpec,
    QType,
    QuestionSpec,
)


@dataclass
class PaperHeader:
    """What the top of the first page and every footer say."""

    county: str
    title: str
    version_label: str  # "2027年第一季度 · 农村版 · 第2版"
    version_code: str  # "M12-V2-rural": printed small on every page


#: Where a drawn tick box goes in a ``_BoxLine``.
BOX = "□"
_INDENT = 14.0  # the answers' indent under a question's label
_GREY = "#5f6b76"
_LIGHT = "#eef1f4"
_RULE = "#9aa4ad"
_ACCENT = "#b3261e"
_OTHER_THEME = "其他问题"


# ---------------------------------------------------------------------- the skip logic in words


_NAME = r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}"
_VALUE = r"(?:'([^']*)'|\"([^\"]*)\"|(-?\d+(?:\.\d+)?))"
_COMPARE = re.compile(rf"^{_NAME}\s*(=|!=|>=|<=|>|<)\s*{_VALUE}$")
_SELECTED = re.compile(rf"^selected\(\s*{_NAME}\s*,\s*{_VALUE}\s*\)$")
_NOT = re.compile(r"^not\s*\((.*)\)$", re.DOTALL)
_WORDS = {">": "大于", ">=": "不小于", "<": "小于", "<=": "不大于"}


def relevant_words(expr: str, numbers: dict[str, int], questions: dict[str, QuestionSpec]) -> str:
    """``relevant`` as the visitor reads it: "第3题选“否”" for ``${q3} = 'no'``; the common
    patterns (``=``, ``!=``, comparisons with a number, ``selected()``, ``not()``, joined by
    ``and``/``or``, in parentheses), else the expression itself with each ``${name}`` of a
    numbered question written as its number."""
    expr = expr.strip()
    if not expr:
        return ""
    words = _words(expr, numbers, questions)
    if words is not None:
        return words
    return re.sub(
        _NAME,
        lambda m: f"第{numbers[m.group(1)]}题" if m.group(1) in numbers else m.group(0),
        expr,
    )


def _words(expr: str, numbers: dict[str, int], questions: dict[str, QuestionSpec]) -> str | None:
    said = _said(expr, numbers, questions)
    return None if said is None else said[0]


def _said(
    expr: str, numbers: dict[str, int], questions: dict[str, QuestionSpec]
) -> tuple[str, str] | None:
    """The words of ``expr`` and what joins it at the top ("or", "and" or "" for one test)."""
    expr = _strip_parens(expr.strip())
    for joiner, word in (("or", "，或"), ("and", "，且")):
        parts = _split(expr, joiner)
        if len(parts) > 1:
            said = [_said(p, numbers, questions) for p in parts]
            texts = []
            for one in said:
                if one is None:
                    return None
                text, kind = one
                # "A and (B or C)": the or inside is bracketed, or it would read as (A and B) or C.
                texts.append(f"（{text}）" if joiner == "and" and kind == "or" else text)
            return word.join(texts), joiner
    if m := _NOT.match(expr):
        inner = _strip_parens(m.group(1).strip())
        if s := _SELECTED.match(inner):
            return _one(_atom(s.group(1), "!=", _value(s, 2), numbers, questions))
        return None
    if m := _SELECTED.match(expr):
        return _one(_atom(m.group(1), "=", _value(m, 2), numbers, questions))
    if m := _COMPARE.match(expr):
        return _one(_atom(m.group(1), m.group(2), _value(m, 3), numbers, questions))
    return None


def _one(text: str | None) -> tuple[str, str] | None:
    return None if text is None else (text, "")


def _value(m: re.Match[str], first: int) -> tuple[str, bool]:
    """The literal of a match and whether it was quoted."""
    quoted = m.group(first) if m.group(first) is not None else m.group(first + 1)
    if quoted is not None:
        return quoted, True
    return m.group(first + 2), False


def _atom(
    name: str,
    op: str,
    value: tuple[str, bool],
    numbers: dict[str, int],
    questions: dict[str, QuestionSpec],
) -> str | None:
    if name not in numbers:
        return None
    where = f"第{numbers[name]}题"
    literal, quoted = value
    question = questions[name]
    if quoted and literal == "":
        if op == "!=":
            return f"{where}已作答"
        if op == "=":
            return f"{where}未作答"
        return None
    if op in _WORDS:
        if quoted:
            return None
        return f"{where}{_WORDS[op]}{literal}"
    if question.type in CHOICE_TYPES:
        label = _choice_label(question, literal)
        if label is None:
            return None
        if question.type == QType.SELECT_MULTIPLE:
            return f"{where}{'选了' if op == '=' else '没有选'}“{label}”"
        return f"{where}{'选' if op == '=' else '未选'}“{label}”"
    return f"{where}{'填' if op == '=' else '不是'}“{literal}”"


def _choice_label(question: QuestionSpec, name: str) -> str | None:
    for choice in _choices(question):
        if choice.name == name:
            return choice.label_zh or choice.name
    return None


def _strip_parens(expr: str) -> str:
    """``expr`` without parentheses around the whole of it."""
    while expr.startswith("(") and expr.endswith(")") and _closing(expr, 0) == len(expr) - 1:
        expr = expr[1:-1].strip()
    return expr


def _closing(expr: str, start: int) -> int:
    depth = 0
    quote = ""
    for i in range(start, len(expr)):
        c = expr[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split(expr: str, joiner: str) -> list[str]:
    """``expr`` cut at each ``joiner`` (``and``/``or``) outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    i = 0
    pattern = re.compile(rf"\s{joiner}\s", re.IGNORECASE)
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and (m := pattern.match(expr, i)):
            parts.append(expr[start:i].strip())
            start = i = m.end()
            continue
        i += 1
    parts.append(expr[start:].strip())
    return [p for p in parts if p] if len(parts) > 1 else parts


# --------------------------------------------------------------------------- the order


def _choices(question: QuestionSpec) -> list[Choice]:
    fixed = FIXED_CHOICES.get(question.type)
    return list(fixed) if fixed is not None else list(question.choices)


def theme_groups(form: FormSpec) -> list[tuple[str, list[QuestionSpec]]]:
    """The questions by theme: ``form.themes`` first (in that order), then the other themes as
    they come, then the questions without a theme (under ``""``)."""
    by_theme: dict[str, list[QuestionSpec]] = {}
    for question in form.questions:
        by_theme.setdefault(question.theme.strip(), []).append(question)
    order = [t for t in dict.fromkeys(t.strip() for t in form.themes) if t in by_theme]
    order += [t for t in by_theme if t and t not in order]
    if "" in by_theme:
        order.append("")
    return [(t, by_theme[t]) for t in order]


def question_numbers(groups: Iterable[tuple[str, list[QuestionSpec]]]) -> dict[str, int]:
    """The printed number of each question with an answer (notes are not numbered)."""
    numbers: dict[str, int] = {}
    for _theme, questions in groups:
        for question in questions:
            if question.type != QType.NOTE:
                numbers[question.name] = len(numbers) + 1
    return numbers


# --------------------------------------------------------------------------- the PDF


def paper_form_pdf(form: FormSpec, header: PaperHeader) -> bytes:
    """The A4 paper form of ``form``; raises ``CardFontMissing`` without an embeddable font."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    font = card_font()
    out = io.BytesIO()
    margin = 16 * mm
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=14 * mm,
        bottomMargin=18 * mm,
        title=f"{header.title} {header.version_label}".strip(),
        author=header.county,
        creator="Minqing",
        subject=header.version_code,
        initialFontName=font,  # or each page would name a non-embedded Helvetica
        invariant=1,
    )
    # A frame pads its content by 6 points on each side: the story is that much narrower.
    story = _Story(font, doc.width - 12).build(form, header)
    doc.build(story, canvasmaker=_numbered_canvas(font, header.version_code))
    return out.getvalue()


def _numbered_canvas(font: str, code: str) -> Callable[..., Any]:
    """A canvas that writes "第 x 页 / 共 y 页" and the version code once it knows y."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self._footer(number, total)
                super().showPage()
            super().save()

        def _footer(self, number: int, total: int) -> None:
            width, _height = self._pagesize
            self.saveState()
            self.setFillColor(HexColor(_GREY))
            self.setStrokeColor(HexColor(_RULE))
            self.setLineWidth(0.4)
            self.line(16 * mm, 12 * mm, width - 16 * mm, 12 * mm)
            self.setFont(font, 7.5)
            self.drawString(16 * mm, 8 * mm, f"版本 {code}")
            self.setFont(font, 9)
            self.drawCentredString(width / 2, 8 * mm, f"第 {number} 页 / 共 {total} 页")
            self.setFont(font, 7.5)
            self.drawRightString(width - 16 * mm, 8 * mm, "户编号 ____________")
            self.restoreState()

    return NumberedCanvas


class _Story:
    """The flowables of one form, in one font, ``width`` points wide."""

    def __init__(self, font: str, width: float) -> None:
        from reportlab.lib.colors import HexColor
        from reportlab.lib.styles import ParagraphStyle

        self.font = font
        self.width = width
        base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
        self.county = ParagraphStyle("county", base, fontSize=11, leading=15, alignment=1)
        self.title = ParagraphStyle("title", base, fontSize=18, leading=24, alignment=1)
        self.version = ParagraphStyle(
            "version", base, fontSize=10, leading=14, alignment=1, textColor=HexColor(_GREY)
        )
        self.field = ParagraphStyle("field", base, fontSize=10.5, leading=16)
        self.theme = ParagraphStyle(
            "theme",
            base,
            fontSize=13,
            leading=18,
            textColor=HexColor("#ffffff"),
        )
        # Wrapped lines of a label start under its words, not under its number.
        self.label = ParagraphStyle(
            "label", base, fontSize=11, leading=16, leftIndent=18, firstLineIndent=-18
        )
        self.choice = ParagraphStyle("choice", base, fontSize=10.5, leading=15)
        self.small = ParagraphStyle(
            "small", base, fontSize=8.5, leading=12, textColor=HexColor(_GREY)
        )
        self.note = ParagraphStyle("note", base, fontSize=10, leading=15)
        self.greeting = ParagraphStyle("greeting", base, fontSize=10.5, leading=17)

    # ----------------------------------------------------------------- pieces

    def para(self, text: str, style: Any) -> Any:
        from reportlab.platypus import Paragraph

        return Paragraph(text, style)

    def build(self, form: FormSpec, header: PaperHeader) -> list[Any]:
        from reportlab.platypus import Spacer

        groups = theme_groups(form)
        numbers = question_numbers(groups)
        questions = {q.name: q for q in form.questions}
        story: list[Any] = [*self.heading(header, form), Spacer(1, 6), self.fields()]
        if form.greeting.strip():
            story += [Spacer(1, 10), self.greeting_box(form.greeting)]
        story.append(Spacer(1, 6))
        for theme, members in groups:
            blocks = [self.question(q, numbers, questions) for q in members]
            if not blocks:
                continue
            # A theme's heading never ends a page: it goes with the theme's first question.
            first = self.keep([self.theme_band(theme or _OTHER_THEME), *blocks[0]])
            story.append(first)
            story += [self.keep(b) for b in blocks[1:]]
        if not numbers and not form.questions:
            story.append(self.para("（本问卷还没有题目。）", self.small))
        story += [Spacer(1, 14), self.closing()]
        return story

    def keep(self, flowables: list[Any]) -> Any:
        from reportlab.platypus import KeepTogether

        return KeepTogether(flowables)

    def heading(self, header: PaperHeader, form: FormSpec) -> list[Any]:
        from reportlab.platypus import Spacer

        title = header.title or form.title
        out = []
        if header.county:
            out.append(self.para(escape(header.county), self.county))
        out += [Spacer(1, 2), self.para(escape(title), self.title)]
        if header.version_label:
            out.append(self.para(escape(header.version_label), self.version))
        out.append(
            self.para(
                f"纸质问卷 · 版本 {escape(header.version_code)} · "
                f'标 <font color="{_ACCENT}">*</font> 的题必须回答 · 请在方框内打 √',
                self.version,
            )
        )
        return out

    def fields(self) -> Any:
        from reportlab.lib.colors import HexColor
        from reportlab.platypus import Table, TableStyle

        blank = "_" * 16
        rows = [
            [
                self.para(f"户主姓名 {blank}", self.field),
                self.para(f"户编号 {blank}", self.field),
            ],
            [
                self.para(f"走访人 {blank}", self.field),
                self.para("走访日期 ______ 年 ____ 月 ____ 日", self.field),
            ],
            [
                _BoxLine(
                    f"走访方式：{BOX}入户　{BOX}电话　{BOX}未联系上"
                    f"（原因：{BOX}外出　{BOX}空房　{BOX}拒访）",
                    self.font,
                    self.field.fontSize,
                ),
                "",
            ],
        ]
        table = Table(rows, colWidths=[self.width / 2, self.width / 2])
        table.setStyle(
            TableStyle(
                [
                    ("SPAN", (0, 2), (1, 2)),
                    ("BOX", (0, 0), (-1, -1), 0.6, HexColor(_RULE)),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 6),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                    ("LEFTPADDING", (0, 0), (-1, -1), 8),
                    ("FONTNAME", (0, 0), (-1, -1), self.font),
                ]
            )
        )
        return table

    def theme_band(self, theme: str) -> Any:
        """A theme's name on a dark band as wide as the boxes above."""
        from reportlab.lib.colors import HexColor
        from reportlab.platypus import Table, TableStyle

        table = Table(
            [[self.para(escape(theme), self.theme)]],
            colWidths=[self.width],
            spaceBefore=8,
            spaceAfter=6,
        )
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, -1), HexColor("#3d4a55")),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                    ("LEFTPADDING", (0, 0), (-1, -1), 8),
                    ("FONTNAME", (0, 0), (-1, -1), self.font),
                ]
            )
        )
        return table

    def shaded(self, paragraph: Any) -> Any:
        """A note to read out, on a light band as wide as the boxes."""
        from reportlab.lib.colors import HexColor
        from reportlab.platypus import Table, TableStyle

        table = Table([[paragraph]], colWidths=[self.width])
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, -1), HexColor(_LIGHT)),
                    ("TOPPADDING", (0, 0), (-1, -1), 5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                    ("LEFTPADDING", (0, 0), (-1, -1), 8),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                    ("FONTNAME", (0, 0), (-1, -1), self.font),
                ]
            )
        )
        return table

    def greeting_box(self, greeting: str) -> Any:
        from reportlab.lib.colors import HexColor
        from reportlab.platypus import Table, TableStyle

        lines = "<br/>".join(escape(line) for line in greeting.strip().splitlines())
        cell = [
            self.para("问候语（请读给住户听）", self.small),
            self.para(lines, self.greeting),
        ]
        table = Table([[cell]], colWidths=[self.width])
        table.setStyle(
            TableStyle(
                [
                    ("BOX", (0, 0), (-1, -1), 0.8, HexColor("#3d4a55")),
                    ("TOPPADDING", (0, 0), (-1, -1), 6),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                    ("LEFTPADDING", (0, 0), (-1, -1), 10),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 10),
                    ("FONTNAME", (0, 0), (-1, -1), self.font),
                ]
            )
        )
        return table

    def closing(self) -> Any:
        return self.para(
            "住户签名（可不签）________________　　走访人签名 ________________", self.field
        )

    # ----------------------------------------------------------------- one question

    def question(
        self, q: QuestionSpec, numbers: dict[str, int], questions: dict[str, QuestionSpec]
    ) -> list[Any]:
        from reportlab.platypus import Spacer

        out: list[Any] = []
        skip = relevant_words(q.relevant, numbers, questions)
        if q.type == QType.NOTE:
            text = escape(q.label_zh)
            if skip:
                text += f'<font size="9" color="{_GREY}">（{escape(skip)}时读）</font>'
            out.append(Spacer(1, 4))
            out.append(self.shaded(self.para(text, self.note)))
            if q.hint_zh:
                out.append(Spacer(1, 6))
                out.append(self.para(escape(q.hint_zh), self.small))
        else:
            label = f"{numbers[q.name]}. {escape(q.label_zh)}"
            if q.required:
                label += f' <font color="{_ACCENT}">*</font>'
            if q.type == QType.SELECT_MULTIPLE:
                label += f' <font size="9" color="{_GREY}">（可多选）</font>'
            if skip:
                label += f' <font size="9" color="{_GREY}">（{escape(skip)}时回答）</font>'
            out.append(self.para(label, self.label))
            hints = [] if q.type in NUMBER_TYPES else [q.hint_zh]
            hints.append(q.constraint_message_zh)
            if hint := "　".join(escape(h) for h in hints if h):
                out.append(self.para(hint, self.small))
            out.append(Spacer(1, 3))
            out += self.answer(q)
        if q.visitor_note:
            out += [Spacer(1, 3), self.visitor_note(q.visitor_note)]
        out.append(Spacer(1, 6))
        return out

    def answer(self, q: QuestionSpec) -> list[Any]:
        if q.type in CHOICE_TYPES:
            return [self.choices(_choices(q))]
        if q.type in NUMBER_TYPES:
            return [_NumberBox(self.font, q.hint_zh, q.type == QType.DECIMAL, self.width)]
        return [_RuledLines(self.width, 3)]

    def choices(self, choices: list[Choice]) -> Any:
        """Tick boxes, as many to a row as the longest label allows (up to 4), in columns just
        wide enough for it; a label too long for half the page wraps in a column of its own."""
        from reportlab.pdfbase.pdfmetrics import stringWidth
        from reportlab.platypus import Table, TableStyle

        if not choices:
            return self.para("（没有选项）", self.small)
        cells = [
            f"{_letter(i)}. {escape(unlettered(i, c.label_zh or c.name))}"
            for i, c in enumerate(choices)
        ]
        usable = self.width - _INDENT
        widest = max(stringWidth(c, self.font, self.choice.fontSize) for c in cells)
        column = max(widest + _TickChoice.ROOM + 18, 96.0)
        columns = 1
        for n in (4, 3, 2):
            if n <= len(choices) and n * column <= usable:
                columns = n
                break
        if columns == 1:
            column = usable
        flowables = [_TickChoice(self.para(c, self.choice)) for c in cells]
        rows: list[list[Any]] = [
            ["", *flowables[i : i + columns]] for i in range(0, len(flowables), columns)
        ]
        rows[-1] += [""] * (columns + 1 - len(rows[-1]))
        table = Table(rows, colWidths=[_INDENT] + [column] * columns, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("FONTNAME", (0, 0), (-1, -1), self.font),
                ]
            )
        )
        return table

    def visitor_note(self, text: str) -> Any:
        from reportlab.lib.colors import HexColor
        from reportlab.lib.styles import ParagraphStyle

        style = ParagraphStyle(
            "visitor", self.small, fontSize=9, leading=13, textColor=HexColor(_GREY), leftIndent=14
        )
        return _Slanted(self.para(f"提示：{escape(text)}", style))


#: A label that starts with its own letter, as departments often type them ("A. 自来水").
_LETTERED = re.compile(r"^\s*([A-Za-z]{1,2})\s*[.．、)）]\s*")


def unlettered(i: int, label: str) -> str:
    """``label`` without a leading letter when it is the letter the form prints before it (the
    ``i``-th choice), so that "A. 自来水" is printed "A. 自来水", not "A. A. 自来水"."""
    found = _LETTERED.match(label)
    if found and found.group(1).upper() == _letter(i) and label[found.end() :].strip():
        return label[found.end() :]
    return label


def _letter(i: int) -> str:
    """A, B, … Z, then AA, AB …"""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("A") + r) + out
    return out


# --------------------------------------------------------------------------- drawn flowables


class _Slanted(Flowable):
    """A paragraph drawn slanted: the font has no italic face (the visitor's notes)."""

    SHEAR = 0.2

    def __init__(self, paragraph: Any) -> None:
        super().__init__()
        self.paragraph = paragraph

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        # The slant moves the top line right by SHEAR × height: leave room for it.
        width, height = self.paragraph.wrap(available_width * 0.9, available_height)
        if self.SHEAR * height > available_width * 0.1:
            width, height = self.paragraph.wrap(
                available_width - self.SHEAR * height - 2, available_height
            )
        self.width, self.height = width, height
        return width, height

    def draw(self) -> None:
        self.canv.saveState()
        self.canv.transform(1, 0, self.SHEAR, 1, 0, 0)
        self.paragraph.drawOn(self.canv, 0, 0)
        self.canv.restoreState()


def _tick_box(canvas: Any, x: float, baseline: float, size: float) -> None:
    """A square to tick, sitting on ``baseline`` as a character of ``size`` points would."""
    from reportlab.lib.colors import HexColor

    side = size * 0.9
    canvas.saveState()
    canvas.setStrokeColor(HexColor("#26313a"))
    canvas.setLineWidth(0.7)
    canvas.rect(x, baseline - size * 0.12, side, side, stroke=1, fill=0)
    canvas.restoreState()


class _TickChoice(Flowable):
    """A tick box and a choice's label, which may wrap (its lines start after the box)."""

    ROOM = 16.0  # the box and the gap after it

    def __init__(self, paragraph: Any) -> None:
        super().__init__()
        self.paragraph = paragraph

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        _w, height = self.paragraph.wrap(available_width - self.ROOM, available_height)
        self.width, self.height = available_width, height
        return self.width, self.height

    def draw(self) -> None:
        size = self.paragraph.style.fontSize
        _tick_box(self.canv, 0, self.height - size, size)
        self.paragraph.drawOn(self.canv, self.ROOM, 0)


class _BoxLine(Flowable):
    """One line of text whose ``BOX`` characters are drawn as tick boxes."""

    def __init__(self, text: str, font: str, size: float) -> None:
        super().__init__()
        self.text, self.font, self.size = text, font, size
        self.height = size * 1.5

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return self.width, self.height

    def draw(self) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        c = self.canv
        baseline = (self.height - self.size) / 2 + self.size * 0.12
        x = 0.0
        c.setFont(self.font, self.size)
        for i, piece in enumerate(self.text.split(BOX)):
            if i:
                x += 2
                _tick_box(c, x, baseline, self.size)
                x += self.size * 0.9 + 3
            c.drawString(x, baseline, piece)
            x += stringWidth(piece, self.font, self.size)


class _NumberBox(Flowable):
    """A box to write a number in, with the unit (the question's hint) beside it."""

    def __init__(self, font: str, unit: str, decimal: bool, width: float) -> None:
        super().__init__()
        self.font, self.unit, self.decimal = font, unit, decimal
        self.box_width, self.box_height, self.indent = 110.0, 22.0, _INDENT
        self.width, self.height = width, self.box_height + 2

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return self.width, self.height

    def draw(self) -> None:
        from reportlab.lib.colors import HexColor
        from reportlab.pdfbase.pdfmetrics import stringWidth

        c = self.canv
        c.saveState()
        c.setStrokeColor(HexColor("#3d4a55"))
        c.setLineWidth(0.8)
        c.rect(self.indent, 1, self.box_width, self.box_height, stroke=1, fill=0)
        c.setFillColor(HexColor(_GREY))
        text = self.unit or ("填数字，可带小数" if self.decimal else "填整数")
        room = self.width - self.indent - self.box_width - 10
        size = 10.0
        while size > 6.5 and stringWidth(text, self.font, size) > room:
            size -= 0.5
        while text and stringWidth(text, self.font, size) > room:
            text = text[:-2] + "…"
        c.setFont(self.font, size)
        c.drawString(self.indent + self.box_width + 8, 1 + (self.box_height - size) / 2 + 1, text)
        c.restoreState()


class _RuledLines(Flowable):
    """Lines to write a short text on."""

    GAP = 20.0

    def __init__(self, width: float, count: int) -> None:
        super().__init__()
        self.count = count
        self.width, self.height = width, self.GAP * count

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return self.width, self.height

    def draw(self) -> None:
        from reportlab.lib.colors import HexColor

        c = self.canv
        c.saveState()
        c.setStrokeColor(HexColor(_RULE))
        c.setLineWidth(0.5)
        for i in range(self.count):
            y = 2 + i * self.GAP
            c.line(_INDENT, y, self.width, y)
        c.restoreState()
