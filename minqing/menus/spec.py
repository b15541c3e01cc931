"""What a questionnaire is, apart from where it is stored: the plain data that the XLSForm
reader and writer, the skip-logic checker, the paper form and the phone share.

A department's checklist (部门清单) and a menu version (四季菜单的一版) are both an ordered list
of ``QuestionSpec``; a menu version adds the themes' order and the greeting script. The question
types are those a visitor can ask at a door (docs/DOMAIN.md §4):

=================  =====================================  =================================
type               what the visitor records               XLSForm
=================  =====================================  =================================
``select_one``     one of the choices (A, B, C, D …)      ``select_one LIST``
``yes_no``         是 / 否                                ``select_one yes_no``
``good_fair_bad``  好 / 一般 / 差                          ``select_one good_fair_bad``
``select_multiple``any of the choices                     ``select_multiple LIST``
``integer``        a whole number                         ``integer``
``decimal``        a number                               ``decimal``
``text``           a short text                           ``text``
``note``           nothing: words to read out             ``note``
=================  =====================================  =================================

``applies`` says which version of the menu carries the question: the urban one (城市版), the
rural one (农村版) or both; a household's place (``org.Node.kind``) decides which it is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class QType(StrEnum):
    SELECT_ONE = "select_one"
    YES_NO = "yes_no"
    GOOD_FAIR_BAD = "good_fair_bad"
    SELECT_MULTIPLE = "select_multiple"
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    NOTE = "note"


#: What the pages call each type.
QTYPE_LABELS = {
    QType.SELECT_ONE: _("Single choice"),
    QType.YES_NO: _("Yes / no"),
    QType.GOOD_FAIR_BAD: _("Good / fair / bad"),
    QType.SELECT_MULTIPLE: _("Multiple choice"),
    QType.INTEGER: _("Whole number"),
    QType.DECIMAL: _("Number"),
    QType.TEXT: _("Short text"),
    QType.NOTE: _("Note (read out, no answer)"),
}
#: Types answered by choosing among ``choices``.
CHOICE_TYPES = frozenset(
    {QType.SELECT_ONE, QType.YES_NO, QType.GOOD_FAIR_BAD, QType.SELECT_MULTIPLE}
)
#: Types with a number for an answer.
NUMBER_TYPES = frozenset({QType.INTEGER, QType.DECIMAL})


class Applies(StrEnum):
    BOTH = "both"
    URBAN = "urban"
    RURAL = "rural"


APPLIES_LABELS = {
    Applies.BOTH: _("Urban and rural"),
    Applies.URBAN: _("Urban version"),
    Applies.RURAL: _("Rural version"),
}

#: Longest text answer, question name and label the product keeps.
MAX_TEXT_ANSWER = 500
MAX_NAME = 64
MAX_LABEL = 500


@dataclass(frozen=True)
class Choice:
    name: str  # what is stored: "a", "yes", "1" …
    label_zh: str
    label_en: str = ""


#: The fixed choice lists of the two fixed-choice types, in the order they are printed.
YES_NO_CHOICES = (Choice("yes", "是", "Yes"), Choice("no", "否", "No"))
GOOD_FAIR_BAD_CHOICES = (
    Choice("good", "好", "Good"),
    Choice("fair", "一般", "Fair"),
    Choice("bad", "差", "Bad"),
)
FIXED_CHOICES = {QType.YES_NO: YES_NO_CHOICES, QType.GOOD_FAIR_BAD: GOOD_FAIR_BAD_CHOICES}


@dataclass
class QuestionSpec:
    """One question as a department or the organisation department wrote it.

    ``relevant`` (when it is asked) and ``constraint`` (what a valid answer is) are expressions
    of the small skip-logic language of ``minqing.menus.logic``; ``constraint`` names the answer
    as ``.``. ``choices`` is empty for the types without choices and, for the two fixed-choice
    types, always ``FIXED_CHOICES[type]``.
    """

    name: str
    type: QType
    label_zh: str
    label_en: str = ""
    hint_zh: str = ""
    hint_en: str = ""
    theme: str = ""  # 主题: "安全生产", "民生保障" … (an XLSForm group's label)
    required: bool = False
    relevant: str = ""
    constraint: str = ""
    constraint_message_zh: str = ""
    constraint_message_en: str = ""
    applies: Applies = Applies.BOTH
    choices: list[Choice] = field(default_factory=list)
    visitor_note: str = ""  # 走访提示: said to the visitor, not read out (XLSForm guidance_hint)

    def choice_names(self) -> list[str]:
        return [c.name for c in self.choices]


@dataclass
class FormSpec:
    """A whole questionnaire: a checklist, or one version of a menu (urban, rural or both)."""

    title: str
    questions: list[QuestionSpec]
    form_id: str = ""  # XLSForm settings.form_id
    version: str = ""  # XLSForm settings.version
    greeting: str = ""  # 问候语与自我介绍 (a menu's opening script)
    themes: list[str] = field(default_factory=list)  # the themes' order ([] : as they come)

    def for_place(self, kind: str) -> FormSpec:
        """The questions a household of this kind (``"urban"``/``"rural"``) is asked."""
        kept = [q for q in self.questions if q.applies in (Applies.BOTH, kind)]
        return FormSpec(
            self.title, kept, self.form_id, self.version, self.greeting, list(self.themes)
        )
