"""Quarterly-menu pages: results — a department's answers by town or village (charts with the
numbers beside them), the same numbers as an xlsx, and one household's record.

The numbers are read from the village tallies (``minqing.menus.selectors.results``); who may
read them is ``MenuAction.SEE_RESULTS`` over the department (its staff, the county's command
centre). A household's record is for whoever sees the campaign's progress at its village, or
for a department its questions belong to (that department then sees only its own questions).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minqing.accounts.middleware import AuthedRequest
from minqing.households.ledger.exporter import XLSX_TYPE
from minqing.menus.models import Campaign, MenuQuestion, Outcome, RaisedIssue, Response
from minqing.menus.permissions import DENIED, MenuAction, allowed, departments_for
from minqing.menus.selectors.results import (
    RESULT_LEVELS,
    QuestionResult,
    Results,
    department_results,
    question_label,
)
from minqing.menus.spec import CHOICE_TYPES, QType
from minqing.menus.views._refuse import refused
from minqing.org.models import Department, Node, subtree_q

#: The fixed answers' colours: yes green, no red; good, fair, bad as a traffic light.
COLOURS = {
    "yes": "#2e7d32",
    "no": "#c62828",
    "good": "#2e7d32",
    "fair": "#f9a825",
    "bad": "#c62828",
}
#: Other choices take these in turn (ECharts' own palette, a little darker for white labels).
PALETTE = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#4e342e"]
#: A share label wider than its bar segment would spill over its neighbours: "16.7%" needs
#: about 18% of a phone's chart width.
LABEL_MIN_SHARE = 18


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("menu", "county", "scope"), pk=pk)


def _node(campaign: Campaign, node_id: int | None) -> Node:
    """The campaign's scope, or a county, town or village inside it (else 404)."""
    if node_id is None:
        node = campaign.scope
    else:
        node = get_object_or_404(Node.objects.filter(subtree_q(campaign.scope.path)), pk=node_id)
    if node.level not in RESULT_LEVELS:
        raise Http404
    return node


def _crumbs(campaign: Campaign, node: Node) -> list[Node]:
    """From the campaign's scope down to ``node``."""
    ids = [int(x) for x in node.path.strip("/").split("/")]
    start = ids.index(campaign.scope_id) if campaign.scope_id in ids else len(ids) - 1
    wanted = ids[start:]
    if wanted == [node.pk]:
        return [node]
    found = {n.pk: n for n in Node.objects.filter(pk__in=wanted)}
    return [found[i] for i in wanted if i in found]


def _resolve(
    request: AuthedRequest, pk: int
) -> tuple[Campaign, Department | None, list[Department], HttpResponse | None]:
    """The campaign and the department asked for, or the page's refusal."""
    campaign = _campaign(pk)
    department_id = _int(request.GET.get("department"))
    if department_id is None:
        mine = departments_for(request.user, campaign.county)
        if len(mine) == 1:
            return campaign, mine[0], mine, None
        if not mine:
            return (
                campaign,
                None,
                [],
                refused(request, DENIED[MenuAction.SEE_RESULTS], campaign.scope_path),
            )
        return campaign, None, mine, None
    department = get_object_or_404(
        Department.objects.filter(county_id=campaign.county_id, kind=Department.Kind.DEPARTMENT),
        pk=department_id,
    )
    if not allowed(request.user, MenuAction.SEE_RESULTS, department):
        return (
            campaign,
            None,
            [],
            refused(request, DENIED[MenuAction.SEE_RESULTS], campaign.scope_path),
        )
    return campaign, department, [department], None


def _query(results: Results, **change: Any) -> str:
    params: dict[str, Any] = {"department": results.department.pk, "node": results.node.pk}
    if results.version is not None:
        params["version"] = results.version.number
    params.update(change)
    return "?" + urlencode({k: v for k, v in params.items() if v is not None})


# --------------------------------------------------------------------------- charts


def _colour(name: str, i: int) -> str:
    return COLOURS.get(name, PALETTE[i % len(PALETTE)])


def _pct(share: float | None) -> dict[str, Any] | None:
    """A bar segment: no segment for 0, and no label on a sliver."""
    if not share:
        return None
    item: dict[str, Any] = {"value": share}
    if share < LABEL_MIN_SHARE:
        item["label"] = {"show": False}
    return item


#: A long name (青山社区居民委员会) wraps rather than squeezing the bars on a phone.
PLACE_LABEL = {"lineHeight": 14}
WRAP_AT = 6


def _wrap(name: str) -> str:
    return "\n".join(name[i : i + WRAP_AT] for i in range(0, len(name), WRAP_AT))


def chart_option(result: QuestionResult, results: Results) -> dict[str, Any] | None:
    """The ECharts option of one question (horizontal bars, the places down the side so that
    long village names stay readable on a phone), or None for a text question."""
    total_name = _("All")
    base: dict[str, Any] = {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 32, "top": 36, "bottom": 8, "containLabel": True},
    }
    if result.kind == "text":
        return None
    if result.kind == "number":
        rows = [result.total, *result.rows] if len(result.rows) > 1 else result.rows
        return base | {
            "grid": base["grid"] | {"top": 8},
            "xAxis": {"type": "value"},
            "yAxis": {
                "type": "category",
                "inverse": True,
                "data": [_wrap(r.name or total_name) for r in rows],
                "axisLabel": PLACE_LABEL,
            },
            "series": [
                {
                    "name": _("Mean"),
                    "type": "bar",
                    "data": [float(r.mean) if r.mean is not None else None for r in rows],
                    "label": {"show": True, "position": "right"},
                    "itemStyle": {"color": PALETTE[0]},
                }
            ],
        }
    percent = {
        "type": "value",
        "max": 100,
        "interval": 25,
        "axisLabel": {"formatter": "{value}%"},
    }
    if not results.by:
        # One village: a bar for each choice.
        row = result.rows[0]
        return base | {
            "xAxis": percent,
            "yAxis": {
                "type": "category",
                "inverse": True,
                "data": [_wrap(c[1]) for c in result.choices],
                "axisLabel": PLACE_LABEL,
            },
            "series": [
                {
                    "name": row.name,
                    "type": "bar",
                    "data": [
                        {"value": s or 0, "itemStyle": {"color": _colour(c[0], i)}}
                        for i, (c, s) in enumerate(zip(result.choices, row.shares, strict=True))
                    ],
                    "label": {"show": True, "position": "right", "formatter": "{c}%"},
                }
            ],
        }
    rows = [result.total, *result.rows]
    stacked = not result.multiple
    series = []
    for i, (name, label) in enumerate(result.choices):
        series.append(
            {
                "name": label,
                "type": "bar",
                **({"stack": "share"} if stacked else {}),
                "data": [_pct(r.shares[i]) for r in rows],
                "label": {
                    "show": True,
                    "position": "inside" if stacked else "right",
                    "formatter": "{c}%",
                    "fontSize": 11,
                    "color": "#fff" if stacked else "#333",
                },
                "itemStyle": {"color": _colour(name, i)},
            }
        )
    return base | {
        "legend": {"top": 0, "type": "scroll"},
        "xAxis": percent,
        "yAxis": {
            "type": "category",
            "inverse": True,
            "data": [_wrap(r.name or total_name) for r in rows],
        },
        "series": series,
    }


def _size(result: QuestionResult, results: Results) -> str:
    """The chart's height class (results.css): by the number of bars it draws."""
    if not results.by:
        bars = len(result.choices) if result.kind == "choice" else 1
    else:
        bars = (len(result.rows) + 1) * (len(result.choices) if result.multiple else 1)
    for limit, size in ((3, "s"), (7, "m"), (14, "l"), (28, "xl")):
        if bars <= limit:
            return size
    return "xxl"


# --------------------------------------------------------------------------- pages


@require_GET
def results(request: AuthedRequest, pk: int) -> HttpResponse:
    """部门结果 — a department's questions of the campaign, answered by town or by village."""
    campaign, department, mine, refused = _resolve(request, pk)
    if refused is not None:
        return refused
    if department is None:
        return render(
            request, "menus/results/choose.html", {"campaign": campaign, "departments": mine}
        )
    node = _node(campaign, _int(request.GET.get("node")))
    found = department_results(
        campaign=campaign,
        department=department,
        node=node,
        version_number=_int(request.GET.get("version")),
    )
    if found.by:
        for q in found.questions:
            for row in q.rows:
                row.link = _query(found, node=row.node_id)
    questions = [
        {
            "result": q,
            "chart": chart_option(q, found),
            "size": _size(q, found),
            "id": f"chart-{q.question.pk}",
        }
        for q in found.questions
    ]
    return render(
        request,
        "menus/results/page.html",
        {
            "campaign": campaign,
            "results": found,
            "questions": questions,
            "crumbs": [(n, _query(found, node=n.pk)) for n in _crumbs(campaign, node)],
            "versions": [(v, _query(found, version=v.number)) for v in found.versions],
            "xlsx": reverse("menus:results_xlsx", args=[campaign.pk]) + _query(found),
        },
    )


HEADERS = ["版本", "地点", "题号", "问题", "选项", "户数", "回答户数", "占比", "数值合计", "平均值"]
WIDTHS = [8, 18, 8, 40, 16, 10, 10, 10, 12, 10]


def results_workbook(found: Results) -> bytes:
    """The page's numbers as one long sheet, a row per place, question and choice (a total row
    for each question first), then a sheet saying what was exported."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    workbook.properties.title = f"{found.campaign.title} {found.department.name}"
    sheet = workbook.create_sheet("结果")
    for i, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)

    def text(value: str) -> Any:
        cell = WriteOnlyCell(sheet, value=value)
        if value.startswith("="):
            cell.data_type = "s"  # a label that looks like a formula stays text
        return cell

    def share(count: int, asked: int) -> Any:
        if not asked:
            return None
        cell = WriteOnlyCell(sheet, value=round(count / asked, 4))
        cell.number_format = "0.0%"
        return cell

    version = found.version.number if found.version is not None else None
    total_name = f"{found.node.name}（合计）" if found.by else found.node.name
    for q in found.questions:
        rows = [q.total, *q.rows] if found.by else q.rows
        for row in rows:
            place = row.name if row.node_id is not None and found.by else total_name

            # Fresh cells for every row: a write-only cell is placed where it is first written.
            def lead(place: str = place, q: QuestionResult = q) -> list[Any]:
                return [version, text(place), q.number, text(q.question.label_zh)]

            if q.kind == "choice":
                chinese = {str(c[0]): str(c[1]) for c in q.question.choices}
                for (name, _label), count in zip(q.choices, row.counts, strict=True):
                    label = chinese.get(name, name)
                    sheet.append(
                        [*lead(), text(label), count, row.asked, share(count, row.asked)]
                        + [None, None]
                    )
            elif q.kind == "number":
                mean = float(row.mean) if row.mean is not None else None
                sheet.append([*lead(), None, row.asked, row.asked, None, float(row.sum), mean])
            else:
                sheet.append([*lead(), None, row.asked, row.asked, None, None, None])
    note = workbook.create_sheet("导出说明")
    note.column_dimensions["A"].width = 12
    note.column_dimensions["B"].width = 50
    for key, value in (
        ("走访", found.campaign.title),
        ("部门", found.department.name),
        ("范围", found.node.name),
        ("问卷版本", f"第{version}版" if version is not None else "—"),
        ("导出时间", f"{timezone.localtime():%Y-%m-%d %H:%M}"),
        ("说明", "户数：选择该项的户数；回答户数：回答了该题的户数；多选题的占比合计可超过100%。"),
    ):
        note.append([key, value])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@require_GET
def results_xlsx(request: AuthedRequest, pk: int) -> HttpResponse:
    """The results page's numbers as an xlsx (same department, place and version)."""
    campaign, department, _mine, refused = _resolve(request, pk)
    if refused is not None:
        return refused
    if department is None:
        raise Http404  # the page asks which department first
    node = _node(campaign, _int(request.GET.get("node")))
    found = department_results(
        campaign=campaign,
        department=department,
        node=node,
        version_number=_int(request.GET.get("version")),
    )
    version = f"-第{found.version.number}版" if found.version is not None else ""
    filename = f"{campaign.title}-{department.name}-{node.name}{version}-结果.xlsx"
    response = HttpResponse(results_workbook(found), content_type=XLSX_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


def _answer_words(q: MenuQuestion, answers: dict[str, Any]) -> str | None:
    """What the household answered, in words (None: not asked)."""
    if q.name not in answers:
        return None
    value = answers[q.name]
    if q.qtype in CHOICE_TYPES:
        labels = {c[0]: (c[2] if len(c) > 2 and c[2] and _english() else c[1]) for c in q.choices}
        chosen = value if isinstance(value, list) else [value]
        return "、".join(str(labels.get(str(v), v)) for v in chosen) or _("(none chosen)")
    if isinstance(value, float | Decimal):
        return f"{Decimal(str(value)).normalize():f}"
    return str(value)


def _english() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "").startswith("en")


@require_GET
def response_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """一户的走访记录 — one household's answers under the version it answered."""
    response = get_object_or_404(
        Response.objects.select_related(
            "task__household",
            "task__village",
            "task__campaign",
            "version",
            "visitor",
            "entered_by",
        ),
        pk=pk,
    )
    task = response.task
    full = allowed(request.user, MenuAction.SEE_PROGRESS, task.village)
    questions = list(
        MenuQuestion.objects.filter(version=response.version)
        .exclude(qtype=QType.NOTE)
        .prefetch_related("departments")
        .order_by("position", "id")
    )
    if not full:
        departments = {d.pk: d for q in questions for d in q.departments.all()}
        mine = {
            pk for pk, d in departments.items() if allowed(request.user, MenuAction.SEE_RESULTS, d)
        }
        questions = [q for q in questions if any(d.pk in mine for d in q.departments.all())]
        if not questions:
            raise Http404  # out of scope reads exactly like missing
    shown = {q.pk for q in questions}
    raised = [
        r
        for r in RaisedIssue.objects.filter(response=response)
        .select_related("issue", "question")
        .order_by("issue_id")
        if r.question_id in shown
    ]
    answers = response.answers or {}
    rows = [
        {
            "number": i,
            "question": q,
            "label": question_label(q),
            "answer": _answer_words(q, answers),
        }
        for i, q in enumerate(questions, start=1)
    ]
    seconds = None
    if response.started_at is not None:
        seconds = int((response.finished_at - response.started_at).total_seconds())
    return render(
        request,
        "menus/results/response.html",
        {
            "response": response,
            "task": task,
            "full": full,
            "rows": rows,
            "raised": raised,
            "minutes": None if seconds is None else max(seconds, 0) // 60,
            "seconds": None if seconds is None else max(seconds, 0) % 60,
            "reached": response.outcome != Outcome.NOT_REACHED,
        },
    )


urlpatterns: list[URLPattern] = [
    path("campaigns/<int:pk>/results/", results, name="results"),
    path("campaigns/<int:pk>/results/xlsx/", results_xlsx, name="results_xlsx"),
    path("responses/<int:pk>/", response_detail, name="response"),
]
