"""Issues in the JSON API (/api/v1/issues/): the same service functions as the pages.

``POST /issues/`` registers and answers the new issue with its ``similar`` candidates; every
transition is a POST to ``/issues/{id}/<step>/``. A step the issue's state does not allow
answers 409 with the reason; an edit based on an old ``version`` answers 409 too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from minqing.accounts.middleware import AuthedRequest
from minqing.api import error_responses
from minqing.households.models import Household
from minqing.issues import selectors, services, similarity
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import OPEN_STATES, Category, Issue
from minqing.lib.context import AuditContext
from minqing.org.models import Department, Node
from minqing.org.selectors import nodes_visible_to

router = Router(tags=["issues"])


# --------------------------------------------------------------------------- schemas


class SimilarOut(Schema):
    id: int
    score: float
    same_village: bool


class ReporterOut(Schema):
    id: int
    household: int | None
    name: str
    phone: str = Field(description="masked")
    words: str
    reported_at: dt.datetime
    reply: str
    replied_at: dt.datetime | None


class EventOut(Schema):
    at: dt.datetime
    actor: str | None
    action: str
    from_status: str
    to_status: str
    note: str


class IssueOut(Schema):
    id: int
    title: str
    description: str
    source: str
    colour: str
    complexity: str
    status: str
    level: str
    category: str
    node: int
    village: int | None
    town: int | None
    household: int | None
    owner_node: int | None
    owner_department: int | None
    responsible: str | None
    offered: bool
    light: str = Field(description="green, yellow (70 % of the stage gone), red (overdue), or ''")
    due_at: dt.datetime | None
    final_due_at: dt.datetime | None
    escalations: int
    merged_into: int | None
    resolution: str
    created_at: dt.datetime
    version: int


class IssueDetailOut(IssueOut):
    reporters: list[ReporterOut]
    timeline: list[EventOut]


class RegisteredOut(IssueOut):
    similar: list[SimilarOut]


class RegisterIn(Schema):
    node: int = Field(description="The place: a village, area or grid id (or give household)")
    household: int | None = None
    category: str = Field(description="Category code, e.g. irrigation, road, power")
    description: str
    colour: str = Field(description="green, blue, yellow or orange")
    complexity: str = "general"
    source: str = "visit"
    title: str = ""
    reporter_name: str = ""
    reporter_phone: str = ""
    reporter_words: str = ""
    resolution: str = Field("", description="What was done on the spot (green issues)")


class VersionIn(Schema):
    version: int | None = Field(None, description="The version the change is based on")


class UnitIn(VersionIn):
    to_node: int | None = None
    to_department: int | None = None


class DispatchIn(UnitIn):
    note: str = ""
    level_confirmed: bool = Field(
        False,
        description="true to send the issue to a unit of another level than its colour's "
        "(a blue issue to a county department …); without it such a dispatch answers 400",
    )


class TransferIn(UnitIn):
    reason: str


class ReasonIn(VersionIn):
    reason: str


class NoteIn(VersionIn):
    note: str = ""


class ResolveIn(VersionIn):
    resolution: str
    replies: dict[int, str] = Field(default_factory=dict, description="reporter id → reply")


class RevisitIn(VersionIn):
    mode: str = Field(description="phone, home or wechat")
    result: str = Field(description="satisfied, basic or unsatisfied")
    words: str = ""


class CloseIn(VersionIn):
    override_reason: str = ""


class ReporterIn(Schema):
    household: int | None = None
    name: str = ""
    phone: str = ""
    words: str = ""


class MergeIn(Schema):
    target: int
    reason: str = ""


class ExtensionIn(Schema):
    workdays: int
    reason: str


class EditIn(Schema):
    version: int = Field(description="The version the edit is based on (409 if it is stale)")
    title: str | None = None
    description: str | None = None
    category: str | None = Field(None, description="Category code")
    complexity: str | None = None


class ListFilter(Schema):
    status: str | None = Field(None, description="a status, or 'open'")
    colour: str | None = None
    village: int | None = None
    overdue: bool = False
    offset: int = Field(0, ge=0)
    limit: int = Field(50, ge=1, le=200)


class IssueListOut(Schema):
    count: int
    results: list[IssueOut]


# --------------------------------------------------------------------------- helpers


def _out(issue: Issue, now: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "id": issue.pk,
        "title": issue.title,
        "description": issue.description,
        "source": issue.source,
        "colour": issue.colour,
        "complexity": issue.complexity,
        "status": issue.status,
        "level": issue.level,
        "category": issue.category.code,
        "node": issue.node_id,
        "village": issue.village_id,
        "town": issue.town_id,
        "household": issue.household_id,
        "owner_node": issue.owner_node_id,
        "owner_department": issue.owner_department_id,
        "responsible": str(issue.responsible) if issue.responsible_id else None,
        "offered": issue.offered,
        "light": issue.light(now),
        "due_at": issue.due_at,
        "final_due_at": issue.final_due_at,
        "escalations": issue.escalations,
        "merged_into": issue.merged_into_id,
        "resolution": issue.resolution,
        "created_at": issue.created_at,
        "version": issue.version,
    }


def _detail(request: AuthedRequest, pk: int) -> dict[str, Any]:
    issue = selectors.issue_for_page(request.user, pk)
    return {
        **_out(issue),
        "reporters": [
            {
                "id": r.pk,
                "household": r.household_id,
                "name": r.name,
                "phone": str(r.phone) if r.phone else "",
                "words": r.words,
                "reported_at": r.reported_at,
                "reply": r.reply,
                "replied_at": r.replied_at,
            }
            for r in issue.reporters.all()
        ],
        "timeline": [
            {
                "at": e.at,
                "actor": str(e.actor) if e.actor_id else None,
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "note": e.note,
            }
            for e in selectors.timeline(issue)
        ],
    }


def _issue(request: AuthedRequest, pk: int) -> Issue:
    return selectors.issue_for_page(request.user, pk)


def _similar(found: list[similarity.Similar]) -> list[dict[str, Any]]:
    return [{"id": s.issue_id, "score": s.score, "same_village": s.same_village} for s in found]


def _units(to_node: int | None, to_department: int | None) -> tuple[Node | None, Department | None]:
    node = Node.objects.filter(pk=to_node).first() if to_node else None
    department = Department.objects.filter(pk=to_department).first() if to_department else None
    if (to_node and node is None) or (to_department and department is None):
        raise field_error("to", _("Unknown unit."), IssueErrorCode.UNKNOWN_TARGET)
    return node, department


# --------------------------------------------------------------------------- reads


@router.get("", url_name="issues", response={200: IssueListOut, **error_responses()})
def issue_list(request: AuthedRequest, filters: Query[ListFilter]):
    """Issues in the caller's jurisdiction, most urgent first."""
    qs = Issue.objects.visible_to(request.user).select_related("category", "responsible")
    if filters.status == "open":
        qs = qs.filter(status__in=OPEN_STATES)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.colour:
        qs = qs.filter(colour=filters.colour)
    if filters.village:
        qs = qs.filter(village_id=filters.village)
    now = timezone.now()
    if filters.overdue:
        qs = qs.filter(status__in=OPEN_STATES, due_at__lt=now)
    page = list(qs.order_by("due_at", "id")[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "results": [_out(i, now) for i in page]}


@router.get("{int:pk}/", url_name="issue", response={200: IssueDetailOut, **error_responses(404)})
def issue_detail(request: AuthedRequest, pk: int):
    """One issue with its reporters (phones masked) and its timeline."""
    return _detail(request, pk)


@router.get(
    "{int:pk}/similar/",
    url_name="issue_similar",
    response={200: list[SimilarOut], **error_responses(404)},
)
def issue_similar(request: AuthedRequest, pk: int):
    """Open issues alike this one, same village first, then the rest of its town."""
    found = similarity.similar_to_issue(_issue(request, pk))
    visible = set(
        Issue.objects.visible_to(request.user)
        .filter(pk__in=[s.issue_id for s in found])
        .values_list("pk", flat=True)
    )
    return _similar([s for s in found if s.issue_id in visible])


OK_EDIT = {200: IssueDetailOut, **error_responses(400, 403, 404, 409)}


# --------------------------------------------------------------------------- registration


@router.post(
    "", url_name="issue_register", response={201: RegisteredOut, **error_responses(400, 403)}
)
def issue_register(request: AuthedRequest, data: RegisterIn):
    """Register a problem; the answer carries ranked ``similar`` open issues to attach to."""
    household = None
    if data.household is not None:
        household = (
            Household.objects.visible_to(request.user)
            .select_related("node")
            .filter(pk=data.household)
            .first()
        )
        if household is None:
            raise field_error("household", _("Unknown household."), IssueErrorCode.UNKNOWN_TARGET)
    node = nodes_visible_to(request.user).filter(pk=data.node).first()
    if node is None:
        raise field_error("node", _("Unknown place."), IssueErrorCode.UNKNOWN_TARGET)
    category = Category.objects.filter(code=data.category, active=True).first()
    if category is None:
        raise field_error("category", _("Unknown category."), IssueErrorCode.CATEGORY_REQUIRED)
    issue = services.issue_register(
        by=request.user,
        node=node,
        household=household,
        category=category,
        context=AuditContext.of(request),
        **data.dict(exclude={"node", "household", "category"}),
    )
    found = [s for s in similarity.similar_to_issue(issue) if s.issue_id != issue.pk]
    return Status(201, {**_out(issue), "similar": _similar(found)})


@router.patch("{int:pk}/", url_name="issue_edit", response=OK_EDIT)
def issue_edit(request: AuthedRequest, pk: int, data: EditIn):
    """Correct an open issue's title, description, category or complexity."""
    changes = data.dict(exclude={"version"}, exclude_none=True)
    if "category" in changes:
        category = Category.objects.filter(code=changes["category"], active=True).first()
        if category is None:
            raise field_error("category", _("Unknown category."), IssueErrorCode.CATEGORY_REQUIRED)
        changes["category"] = category
    services.issue_update(
        by=request.user,
        issue=_issue(request, pk),
        data=changes,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


# --------------------------------------------------------------------------- transitions

OK = {200: IssueDetailOut, **error_responses(400, 403, 404, 409)}


@router.post("{int:pk}/dispatch/", url_name="issue_dispatch", response=OK)
def dispatch(request: AuthedRequest, pk: int, data: DispatchIn):
    """派单: to its village, its town, the county (to_node) or a department (to_department)."""
    to_node, to_department = _units(data.to_node, data.to_department)
    services.issue_dispatch(
        by=request.user,
        issue=_issue(request, pk),
        to_node=to_node,
        to_department=to_department,
        note=data.note,
        level_confirmed=data.level_confirmed,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/accept/", url_name="issue_accept", response=OK)
def accept(request: AuthedRequest, pk: int, data: NoteIn):
    """接单: the unit it was sent to takes it on; the note (what it will do) goes on the
    timeline."""
    services.issue_accept(
        by=request.user,
        issue=_issue(request, pk),
        note=data.note,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/start/", url_name="issue_start", response=OK)
def start(request: AuthedRequest, pk: int, data: NoteIn):
    services.issue_start(
        by=request.user,
        issue=_issue(request, pk),
        note=data.note,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/return/", url_name="issue_return", response=OK)
def return_(request: AuthedRequest, pk: int, data: ReasonIn):
    """退回: misrouted, back to its dispatcher with the reason."""
    services.issue_return(
        by=request.user,
        issue=_issue(request, pk),
        reason=data.reason,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/transfer/", url_name="issue_transfer", response=OK)
def transfer(request: AuthedRequest, pk: int, data: TransferIn):
    """逐级流转: pass to another unit up or down."""
    to_node, to_department = _units(data.to_node, data.to_department)
    services.issue_transfer(
        by=request.user,
        issue=_issue(request, pk),
        to_node=to_node,
        to_department=to_department,
        reason=data.reason,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/resolve/", url_name="issue_resolve", response=OK)
def resolve(request: AuthedRequest, pk: int, data: ResolveIn):
    """办结: what was done, and a reply to every reporter still waiting for one."""
    services.issue_resolve(
        by=request.user,
        issue=_issue(request, pk),
        resolution=data.resolution,
        replies=data.replies,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/revisit/", url_name="issue_revisit", response=OK)
def revisit(request: AuthedRequest, pk: int, data: RevisitIn):
    """回访: unsatisfied reopens it to the same unit with the resident's words."""
    services.issue_revisit(
        by=request.user,
        issue=_issue(request, pk),
        mode=data.mode,
        result=data.result,
        words=data.words,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/close/", url_name="issue_close", response=OK)
def close(request: AuthedRequest, pk: int, data: CloseIn):
    """销号: after a satisfied revisit, or with a supervisor's override reason."""
    services.issue_close(
        by=request.user,
        issue=_issue(request, pk),
        override_reason=data.override_reason,
        version=data.version,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/escalate/", url_name="issue_escalate", response=OK)
def escalate(request: AuthedRequest, pk: int, data: ReasonIn):
    services.issue_escalate(
        by=request.user,
        issue=_issue(request, pk),
        reason=data.reason,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/extension/", url_name="issue_extension", response=OK)
def extension(request: AuthedRequest, pk: int, data: ExtensionIn):
    """延期申请: ask the supervisor for more working days."""
    services.extension_request(
        by=request.user,
        issue=_issue(request, pk),
        workdays=data.workdays,
        reason=data.reason,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/reporters/", url_name="issue_add_reporter", response=OK)
def add_reporter(request: AuthedRequest, pk: int, data: ReporterIn):
    """One more household reports the same problem."""
    household = None
    if data.household is not None:
        household = Household.objects.visible_to(request.user).filter(pk=data.household).first()
        if household is None:
            raise field_error("household", _("Unknown household."), IssueErrorCode.UNKNOWN_TARGET)
    services.issue_add_reporter(
        by=request.user,
        issue=_issue(request, pk),
        household=household,
        name=data.name,
        phone=data.phone,
        words=data.words,
        context=AuditContext.of(request),
    )
    return _detail(request, pk)


@router.post("{int:pk}/merge/", url_name="issue_merge", response=OK)
def merge(request: AuthedRequest, pk: int, data: MergeIn):
    """合并: this issue's reporters join ``target``; answers the target."""
    source = _issue(request, pk)
    target = Issue.objects.visible_to(request.user).filter(pk=data.target).first()
    if target is None:
        raise field_error("target", _("Unknown issue."), IssueErrorCode.UNKNOWN_TARGET)
    services.issue_merge(
        by=request.user,
        source=source,
        target=target,
        reason=data.reason,
        context=AuditContext.of(request),
    )
    return _detail(request, target.pk)
