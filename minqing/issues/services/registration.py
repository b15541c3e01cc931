"""登记 — registering a problem, and more households reporting the same one."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.issues import deadlines, similarity
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import (
    COLOUR_LEVEL,
    Category,
    Colour,
    Complexity,
    ContactMode,
    EventAction,
    Issue,
    IssueEvent,
    IssueReporter,
    Revisit,
    Satisfaction,
    Source,
    Status,
)
from minqing.issues.permissions import (
    can_register_at,
    require,
)
from minqing.issues.services.common import (
    IllegalTransition,
    dispatch_by_rule_step,
    issue_notice,
    level_unit,
    locked,
    owner_notice,
    place_of,
    record,
    status_label,
    unit_users,
)
from minqing.lib.context import AuditContext
from minqing.lib.fields import plain
from minqing.lib.text import clean_phone, clean_text
from minqing.org.models import Department, Node
from minqing.org.models import Level as NodeLevel

# --------------------------------------------------------------------------- registration


def issue_register(
    *,
    by: User,
    node: Node,
    category: Category | None,
    description: str,
    colour: str,
    source: str = Source.VISIT,
    title: str = "",
    complexity: str = Complexity.GENERAL,
    household=None,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_words: str = "",
    resolution: str = "",
    context: AuditContext | None = None,
    for_household_task: bool = False,
    dispatch_by_rule: tuple[Department, str] | None = None,
) -> Issue:
    """登记 — a problem found on a visit, a patrol, the hotline, a menu answer or by a resident.

    Blue and green issues are the village's, yellow the town's, orange the county committee's;
    each waits for dispatch by that level. A green issue was solved on the spot: ``resolution``
    says how, and it is closed at once after the resident's on-the-spot "satisfied".

    ``for_household_task``: the caller has checked that ``by`` answers for ``household`` (a
    campaign task of theirs: the rule of a menu answer raises it), so ``by`` need not register
    issues at the household's place — a group leader may look after a household of the next
    grid. Only with a household.

    ``dispatch_by_rule``: (department, rule) — the issue goes on at once to the department by
    a standing rule the county set, as ``issue_dispatch_by_rule`` would send it, in the same
    step: one row written, the timeline's two events and audit rows, one notification call.
    """
    errors: dict[str, ValidationError] = {}

    def refuse(field: str, message: str, code: IssueErrorCode) -> None:
        errors[field] = ValidationError(message, code=code)

    if source not in Source.values:
        refuse("source", _("Unknown source."), IssueErrorCode.UNKNOWN_SOURCE)
    if colour not in Colour.values:
        refuse("colour", _("Choose one of the four colours."), IssueErrorCode.UNKNOWN_COLOUR)
    if complexity not in Complexity.values:
        refuse("complexity", _("Unknown complexity."), IssueErrorCode.UNKNOWN_COMPLEXITY)
    if category is None or not category.active:
        refuse("category", _("Choose a category."), IssueErrorCode.CATEGORY_REQUIRED)
    try:
        description = clean_text(description, "description", required=True)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.error_dict.items()})
    if colour == Colour.GREEN and not str(resolution or "").strip():
        message = _("Say what was done on the spot for a green issue.")
        refuse("resolution", message, IssueErrorCode.GREEN_NEEDS_RESOLUTION)
    try:
        reporter_phone = clean_phone(reporter_phone, "reporter_phone")
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.error_dict.items()})
    if errors:
        raise ValidationError(errors)
    village, town = place_of(node)
    if household is not None:
        if household.village_id != village.pk:
            raise field_error(
                "household",
                _("This household is not in that village."),
                IssueErrorCode.HOUSEHOLD_ELSEWHERE,
            )
        if node.level == NodeLevel.VILLAGE:
            node = household.node
    if not (for_household_task and household is not None):
        require(
            can_register_at(by, node.path),
            _("You can register issues only in the places you look after."),
        )
    title = clean_text(title, "title", required=False, max_length=100) or description[:30]
    now = timezone.now()
    level = COLOUR_LEVEL[Colour(colour)]
    with transaction.atomic():
        issue = Issue(
            source=source,
            node=node,
            village=village,
            town=town,
            node_path=node.path,
            household=household,
            category=category,
            title=title,
            description=description,
            colour=colour,
            complexity=complexity,
            status=Status.REGISTERED,
            level=level,
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        issue.owner_node = level_unit(issue, level)
        deadlines.schedule(issue, start=now, stage="dispatch", new_final=True)
        registered_owner, dispatchers_node = issue.owner_label, issue.owner_node
        rule = ""
        if dispatch_by_rule is not None and colour != Colour.GREEN:
            department, rule = dispatch_by_rule
            dispatch_by_rule_step(issue, department=department, now=now)
            issue.status = Status.DISPATCHED
            issue.version += 1
        issue.save()
        if household is not None or reporter_name or reporter_phone:
            IssueReporter.objects.create(
                issue=issue,
                household=household,
                name=clean_text(
                    reporter_name or (household.head_name if household else ""),
                    "reporter_name",
                    required=False,
                    max_length=50,
                ),
                # Replies go to the household's phone unless the reporter gave another.
                phone=reporter_phone or (plain(household.phone) if household else "") or None,
                words=clean_text(reporter_words, "reporter_words", required=False),
                reported_at=now,
            )
        events = [
            IssueEvent(
                issue=issue,
                at=now,
                actor=by,
                action=EventAction.REGISTER,
                to_status=Status.REGISTERED,
                note=description,
                data={"colour": colour, "source": source, "owner": registered_owner},
            )
        ]
        if issue.status == Status.DISPATCHED:
            events.append(
                IssueEvent(
                    issue=issue,
                    at=now,
                    actor=None,
                    action=EventAction.DISPATCH,
                    from_status=Status.REGISTERED,
                    to_status=Status.DISPATCHED,
                    note=rule,
                    data={"to": issue.owner_label, "rule": rule},
                )
            )
        IssueEvent.objects.bulk_create(events)
        audit_record(
            action=AuditAction.ISSUE_REGISTER,
            user=by,
            context=context,
            obj=issue,
            detail={"colour": colour, "source": source, "node": node.pk},
        )
        if issue.status == Status.DISPATCHED:
            audit_record(
                action=AuditAction.for_issue_step(EventAction.DISPATCH),
                username="worker",
                context=context,
                obj=issue,
                # as record() writes it: the step's data over its from/to
                detail={"from": Status.REGISTERED, "to": issue.owner_label, "rule": rule},
            )
        if colour == Colour.GREEN:
            _solve_on_the_spot(issue, by=by, resolution=resolution, context=context)
        else:
            similarity.index_issue(issue, new=True)
            notices = [
                issue_notice(
                    unit_users(node=dispatchers_node),
                    kind="issue.registered",
                    issue=issue,
                    title=_("New issue"),
                )
            ]
            if issue.status == Status.DISPATCHED:
                notices.append(
                    owner_notice(issue, kind="issue.dispatched", title=_("Issue sent to you"))
                )
            from minqing.notifications.services import notify_many

            notify_many(notices)
    return issue


def _solve_on_the_spot(
    issue: Issue, *, by: User, resolution: str, context: AuditContext | None
) -> None:
    """Green: the visitor solved it and the resident said so on the spot (当场解决)."""
    now = timezone.now()
    text = clean_text(resolution, "resolution", required=True)
    issue.resolution = text
    issue.resolved_at = now
    issue.responsible = by
    issue.reporters.filter(replied_at__isnull=True).update(
        reply=text, replied_at=now, replied_by=by
    )
    record(
        issue,
        by=by,
        action=EventAction.RESOLVE,
        to_status=Status.RESOLVED,
        note=text,
        fields=["resolution", "resolved_at", "responsible"],
        context=context,
        at=now,
    )
    Revisit.objects.create(
        issue=issue, by=by, at=now, mode=ContactMode.HOME, result=Satisfaction.SATISFIED
    )
    record(
        issue,
        by=by,
        action=EventAction.REVISIT,
        to_status=Status.REVISITED,
        data={"result": Satisfaction.SATISFIED, "mode": ContactMode.HOME, "on_the_spot": True},
        context=context,
        at=now,
    )
    issue.closed_at = now
    record(
        issue,
        by=by,
        action=EventAction.CLOSE,
        to_status=Status.CLOSED,
        fields=["closed_at"],
        at=now,
    )


def issue_add_reporter(
    *,
    by: User,
    issue: Issue,
    household=None,
    name: str = "",
    phone: str = "",
    words: str = "",
    context: AuditContext | None = None,
) -> IssueReporter:
    """One more household reports the same problem: attach it instead of a duplicate issue."""
    require(can_register_at(by, issue.node_path), _("This issue is outside your places."))
    if household is None and not str(name or "").strip():
        raise field_error(
            "household", _("Choose the household or give a name."), IssueErrorCode.REPORTER_REQUIRED
        )
    if household is not None and household.village_id != issue.village_id:
        if not can_register_at(by, household.node.path):
            raise field_error(
                "household",
                _("This household is outside your places."),
                IssueErrorCode.HOUSEHOLD_OUTSIDE_SCOPE,
            )
    with transaction.atomic():
        issue = locked(issue)
        # The state is read under the row lock: a close or merge committed between the page's
        # read and this lock must refuse the report (it would join a finished issue).
        if issue.status in (Status.CLOSED, Status.MERGED):
            raise IllegalTransition(
                _("This issue is %(status)s; register a new one instead.")
                % {"status": status_label(issue.status)},
                code=IssueErrorCode.FINISHED,
            )
        if household is not None and issue.reporters.filter(household=household).exists():
            raise field_error(
                "household",
                _("This household has already reported this issue."),
                IssueErrorCode.ALREADY_REPORTED,
            )
        reporter = IssueReporter.objects.create(
            issue=issue,
            household=household,
            name=clean_text(
                name or (household.head_name if household else ""),
                "name",
                required=False,
                max_length=50,
            ),
            phone=clean_phone(phone, "phone")
            or (plain(household.phone) if household else "")
            or None,
            words=clean_text(words, "words", required=False),
        )
        record(
            issue,
            by=by,
            action=EventAction.ADD_REPORTER,
            note=reporter.words,
            data={"reporter": reporter.name, "household": getattr(household, "pk", None)},
            context=context,
        )
    return reporter


def issue_join_by_rule(
    *,
    issue_id: int,
    household,
    words: str = "",
    rule: str = "",
    context: AuditContext | None = None,
) -> IssueReporter | None:
    """One more household of the village raised the same thing through a standing rule (the
    quarterly menu's answers): it joins issue ``issue_id`` as a reporter instead of opening a
    duplicate. No person takes this step, so no one's places are asked; the timeline names
    the rule. Returns None when the household already reported the issue (a replay changes
    nothing)."""
    with transaction.atomic():
        # Locked with only what this step reads and writes (a menu sync joins many).
        issue = (
            Issue.objects.select_for_update(of=("self",))
            .only("id", "title", "status", "village_id", "version", "updated_at")
            .get(pk=issue_id)
        )
        if issue.status in (Status.CLOSED, Status.MERGED):
            raise IllegalTransition(
                _("This issue is %(status)s; register a new one instead.")
                % {"status": status_label(issue.status)},
                code=IssueErrorCode.FINISHED,
            )
        if household.village_id != issue.village_id:
            raise ValueError("a household of another village")
        if IssueReporter.objects.filter(issue_id=issue.pk, household=household).exists():
            return None
        reporter = IssueReporter.objects.create(
            issue=issue,
            household=household,
            name=clean_text(household.head_name, "name", required=False, max_length=50),
            phone=plain(household.phone) or None,
            words=clean_text(words, "words", required=False),
        )
        record(
            issue,
            by=None,
            action=EventAction.ADD_REPORTER,
            note=reporter.words,
            data={"reporter": reporter.name, "household": household.pk, "rule": rule},
            context=context,
        )
    return reporter
