"""A department's results (部门结果) of a campaign: its own questions of one menu version, the
answers summed by town (at the county), by village (at a town) or for one village.

Everything is read from the village tallies the answers keep (``Tally``, written in each
answer's transaction), never from the answers themselves: a county of 530,000 households reads
one indexed range of at most questions × villages × choices rows, and the number of queries does
not depend on the node's size.

A question belongs to one version (a new version copies its questions as new rows), so the
answers given under version 1 stay with version 1's questions: the page shows one version at a
time and offers the others.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import get_language

from minqing.menus.models import Campaign, MenuQuestion, MenuVersion, Tally, VersionState
from minqing.menus.spec import CHOICE_TYPES, NUMBER_TYPES, QTYPE_LABELS, QType
from minqing.org.models import Department, Level, Node

#: The levels a results page can stand at (tallies are kept by village).
RESULT_LEVELS = frozenset({Level.COUNTY, Level.TOWN, Level.VILLAGE})


def _english() -> bool:
    return (get_language() or "").startswith("en")


def question_label(q: MenuQuestion) -> str:
    return q.label_en if _english() and q.label_en else q.label_zh


def _share(count: int, asked: int) -> float | None:
    """Per cent of ``asked``, one decimal (None when nobody was asked)."""
    return round(count * 100 / asked, 1) if asked else None


@dataclass
class Row:
    """One place's numbers for one question (or the total of the places)."""

    node_id: int | None  # None: the total
    name: str
    counts: list[int]  # one per choice, in the choices' order ([] for numbers and texts)
    asked: int = 0  # households that answered the question
    sum: Decimal = Decimal(0)  # of the numbers answered
    link: str = ""  # the page's own address for this place (set by the view)

    @property
    def shares(self) -> list[float | None]:
        return [_share(c, self.asked) for c in self.counts]

    @property
    def cells(self) -> list[tuple[int, float | None]]:
        return list(zip(self.counts, self.shares, strict=True))

    @property
    def mean(self) -> Decimal | None:
        if not self.asked:
            return None
        return (self.sum / self.asked).quantize(Decimal("0.01"))

    @property
    def total(self) -> Decimal:
        return self.sum.normalize() if self.sum else Decimal(0)


@dataclass
class QuestionResult:
    """A question's numbers by place, with the total of the places shown."""

    question: MenuQuestion
    number: int  # its position among the department's questions (1, 2, …)
    choices: list[tuple[str, str]]  # (name, label)
    rows: list[Row]
    total: Row

    @property
    def label(self) -> str:
        return question_label(self.question)

    @property
    def kind(self) -> str:
        """ "choice", "number" or "text"."""
        if self.question.qtype in CHOICE_TYPES:
            return "choice"
        if self.question.qtype in NUMBER_TYPES:
            return "number"
        return "text"

    @property
    def table_rows(self) -> list[Row]:
        """The places, then their total (one place: no total)."""
        return [*self.rows, self.total] if len(self.rows) > 1 else self.rows

    @property
    def type_label(self) -> str:
        return str(QTYPE_LABELS[QType(self.question.qtype)])

    @property
    def multiple(self) -> bool:
        return self.question.qtype == QType.SELECT_MULTIPLE


@dataclass
class VersionChoice:
    number: int
    published_at: Any
    questions: int  # the department's questions in it
    current: bool  # the version the campaign asks now


@dataclass
class Results:
    campaign: Campaign
    department: Department
    node: Node
    version: MenuVersion | None
    versions: list[VersionChoice]
    #: "town", "village" or "" (one village: no breakdown)
    by: str
    places: list[Node]
    questions: list[QuestionResult] = field(default_factory=list)


def result_versions(campaign: Campaign, department: Department) -> list[tuple[MenuVersion, int]]:
    """The menu's published versions with the department's questions in each (one query)."""
    return [
        (v, v.n)
        for v in MenuVersion.objects.filter(menu_id=campaign.menu_id, state=VersionState.PUBLISHED)
        .annotate(
            n=Count(
                "questions",
                filter=Q(questions__departments=department) & ~Q(questions__qtype=QType.NOTE),
            )
        )
        .order_by("number")
    ]


def _places(node: Node) -> tuple[str, list[Node]]:
    if node.level == Level.COUNTY:
        return "town", list(
            Node.objects.filter(parent=node, level=Level.TOWN).order_by("sort_key", "name")
        )
    if node.level == Level.TOWN:
        return "village", list(
            Node.objects.filter(parent=node, level=Level.VILLAGE).order_by("sort_key", "name")
        )
    return "", [node]


def _choices(q: MenuQuestion) -> list[tuple[str, str]]:
    english = _english()
    return [(str(c[0]), str(c[2] if english and len(c) > 2 and c[2] else c[1])) for c in q.choices]


def department_results(
    *, campaign: Campaign, department: Department, node: Node, version_number: int | None = None
) -> Results:
    """The department's results of ``campaign`` at ``node`` (county, town or village), under
    ``version_number`` (else the version the campaign asks now, else the last with the
    department's questions). Permission is the caller's (``MenuAction.SEE_RESULTS``)."""
    versions = result_versions(campaign, department)
    choices = [
        VersionChoice(v.number, v.published_at, n, v.pk == campaign.version_id) for v, n in versions
    ]
    chosen: MenuVersion | None = None
    if version_number is not None:
        chosen = next((v for v, _n in versions if v.number == version_number), None)
    if chosen is None:
        chosen = next((v for v, _n in versions if v.pk == campaign.version_id), None)
    if chosen is None and versions:
        chosen = versions[-1][0]
    by, places = _places(node)
    results = Results(campaign, department, node, chosen, choices, by, places)
    if chosen is None:
        return results
    questions = list(
        MenuQuestion.objects.filter(version=chosen, departments=department)
        .exclude(qtype=QType.NOTE)
        .order_by("position", "id")
        .distinct()
    )
    if not questions:
        return results
    tallies = Tally.objects.filter(campaign=campaign, question__in=[q.pk for q in questions])
    # Grouped by village without a join (the tally's own index does the work); the villages
    # are then added up into their towns here.
    place_of: dict[int, int]
    if by == "town":
        place_of = dict(
            Node.objects.filter(parent__in=places, level=Level.VILLAGE).values_list(
                "pk", "parent_id"
            )
        )
        if node.pk != campaign.scope_id:
            tallies = tallies.filter(village_id__in=list(place_of))
    else:
        place_of = {p.pk: p.pk for p in places}
        tallies = tallies.filter(village_id__in=list(place_of))
    cells: dict[tuple[int, int], dict[str, list[Any]]] = defaultdict(dict)
    for question_id, choice, village_id, n, s in tallies.values_list(
        "question_id", "choice", "village_id", "count", "total"
    ):
        place_id = place_of.get(village_id)
        if place_id is None:
            continue  # a village outside the places shown (not under a town)
        cell = cells[(question_id, place_id)].setdefault(choice, [0, Decimal(0)])
        cell[0] += n
        cell[1] += s
    for number, q in enumerate(questions, start=1):
        names = _choices(q)
        known = {n for n, _label in names}
        # A choice answered but no longer listed (kept rather than dropped from the sums).
        extra = sorted(
            {
                ch
                for place in places
                for ch in cells.get((q.pk, place.pk), {})
                if ch and ch not in known
            }
        )
        names += [(ch, ch) for ch in extra]
        rows = []
        for place in places:
            got = cells.get((q.pk, place.pk), {})
            counts = [got[n][0] if n in got else 0 for n, _label in names]
            if "" in got:
                asked, total = got[""]
            else:  # one answer each: the choices' counts add up to the households
                asked, total = (sum(counts) if q.qtype != QType.SELECT_MULTIPLE else 0), Decimal(0)
            rows.append(Row(place.pk, place.name, counts, asked, total))
        overall = Row(
            None,
            "",
            [sum(r.counts[i] for r in rows) for i in range(len(names))],
            sum(r.asked for r in rows),
            sum((r.sum for r in rows), Decimal(0)),
        )
        results.questions.append(QuestionResult(q, number, names, rows, overall))
    return results
