"""Shared steps of every issue service: the state guard, the row lock, the timeline event
with its audit row, notifications to a unit, and where an issue sits in the tree."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import RoleAssignment, User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.issues import actions, deadlines, similarity
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import (
    OPEN_STATES,
    EventAction,
    Issue,
    IssueEvent,
    Level,
    Status,
)
from minqing.issues.permissions import (
    UNIT_ROLES,
)
from minqing.lib.context import AuditContext
from minqing.lib.errors import StaleEdit
from minqing.lib.memo import cached
from minqing.org.errors import OrgErrorCode
from minqing.org.models import Department, Node
from minqing.org.models import Level as NodeLevel
from minqing.org.selectors import county_on_path

MAX_DESCRIPTION = 2000


# The issue is not in a state that allows this step; defined beside the table of steps.
IllegalTransition = actions.IllegalTransition


# --------------------------------------------------------------------------- helpers


def status_label(status: str) -> str:
    return str(Status(status).label)


def locked(issue: Issue, version: int | None = None) -> Issue:
    """The issue's row, locked for this transaction; ``version`` guards against stale edits."""
    fresh = (
        Issue.objects.select_for_update(of=("self",))
        .select_related("owner_node", "owner_department", "category", "village", "town")
        .get(pk=issue.pk)
    )
    if version is not None and int(version) != fresh.version:
        raise StaleEdit
    return fresh


def record(
    issue: Issue,
    *,
    by: User | None,
    action: str,
    to_status: str | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    fields: Iterable[str] = (),
    context: AuditContext | None = None,
    at=None,
) -> IssueEvent:
    """Apply ``to_status`` and the already-set ``fields``, save, and write event + audit."""
    at = at or timezone.now()
    from_status = issue.status
    was_open = from_status in OPEN_STATES
    if to_status is not None:
        issue.status = to_status
    issue.version += 1
    issue.updated_at = at
    issue.save(update_fields={"status", "version", "updated_at", *fields})
    event = IssueEvent.objects.create(
        issue=issue,
        at=at,
        actor=by if getattr(by, "pk", None) else None,
        action=action,
        from_status=from_status,
        to_status=issue.status,
        note=note,
        data=data or {},
    )
    audit_record(
        action=AuditAction.for_issue_step(action),
        user=by if getattr(by, "pk", None) else None,
        username="" if getattr(by, "pk", None) else "worker",
        context=context,
        obj=issue,
        detail={"from": from_status, "to": issue.status, **(data or {})},
    )
    if was_open != (issue.status in OPEN_STATES):
        similarity.sync_index(issue)
    return event


def notify_users(recipients: Iterable[User], *, kind: str, issue: Issue, title: str) -> None:
    from minqing.notifications.services import notify_many

    notify_many([issue_notice(recipients, kind=kind, issue=issue, title=title)])


def issue_notice(recipients: Iterable[User], *, kind: str, issue: Issue, title: str) -> Any:
    """A notification about ``issue``: its title as the text, its page as the link."""
    from minqing.notifications.services import Notice

    return Notice(recipients, kind, title, issue.title, f"/issues/{issue.pk}/", issue)


def reporter_notice(issue: Issue, *, kind: str, what: str, actor: Any = None) -> Any:
    """Tell the people who reported ``issue`` what happened to it (``what``: "已派单至区水利局").

    They are whoever registered it or brought another household's report to it (a person who
    logs in, not the county's account for public submissions); when no such person exists, the
    liaisons linked to the reporting households hear it and pass it on. The one who took the
    step is not told of their own step.
    """
    from minqing.notifications.services import Notice

    people = _reporting_people(issue)
    if people:
        title = _("The problem you reported (#%(pk)s): %(what)s") % {"pk": issue.pk, "what": what}
    else:
        people = _household_contacts(issue)
        title = _("A problem your household reported (#%(pk)s): %(what)s") % {
            "pk": issue.pk,
            "what": what,
        }
    actor_pk = getattr(actor, "pk", None)
    people = [p for p in people if p.pk != actor_pk]
    return Notice(people, kind, title, issue.title, f"/issues/{issue.pk}/", issue)


def notify_reporters(issue: Issue, *, kind: str, what: str, actor: Any = None) -> None:
    from minqing.notifications.services import notify_many

    notify_many([reporter_notice(issue, kind=kind, what=what, actor=actor)])


def _reporting_people(issue: Issue) -> list[User]:
    added = issue.events.filter(action=EventAction.ADD_REPORTER, actor__isnull=False)
    ids = {pk for pk in [issue.created_by_id, *added.values_list("actor_id", flat=True)] if pk}
    people = User.objects.filter(pk__in=ids, is_active=True)
    return [u for u in people if u.has_usable_password()]


#: Who passes news on to households that reported a problem when no person who logs in did:
#: ``hook(household ids) -> users``. The contacts app (above issues, which imports none of it)
#: registers the households' current liaisons when it is ready; with no hook nobody is told.
HouseholdContacts = Callable[[set[int]], Iterable[User]]
_HOUSEHOLD_CONTACTS: list[HouseholdContacts] = []


def register_household_contacts(hook: HouseholdContacts) -> None:
    """Add who hears about a household's reported problem (called from an app's ready())."""
    if hook not in _HOUSEHOLD_CONTACTS:
        _HOUSEHOLD_CONTACTS.append(hook)


def _household_contacts(issue: Issue) -> list[User]:
    households = set(issue.reporters.exclude(household=None).values_list("household_id", flat=True))
    if issue.household_id:
        households.add(issue.household_id)
    if not households:
        return []
    people: dict[int, User] = {}
    for hook in _HOUSEHOLD_CONTACTS:
        people.update((u.pk, u) for u in hook(households))
    return list(people.values())


def unit_users(*, node: Node | None = None, department: Department | None = None) -> list[User]:
    """The active people who act for a unit: its cadres/staff, or the department's staff."""
    if department is None and node is None:
        return []

    def read() -> list[User]:
        qs = RoleAssignment.objects.filter(user__is_active=True)
        if department is not None:
            qs = qs.filter(department=department)
        else:
            qs = qs.filter(node=node, role__in=UNIT_ROLES)
        return list(User.objects.filter(pk__in=qs.values("user_id")))

    key = ("unit_users", getattr(node, "pk", None), getattr(department, "pk", None))
    return list(cached(key, read))  # a copy: callers add to it


def notify_owner(issue: Issue, *, kind: str, title: str) -> None:
    from minqing.notifications.services import notify_many

    notify_many([owner_notice(issue, kind=kind, title=title)])


def owner_notice(issue: Issue, *, kind: str, title: str) -> Any:
    """A notification to the unit that holds ``issue`` and its named responsible person."""
    people = unit_users(node=issue.owner_node, department=issue.owner_department)
    responsible = issue.responsible if issue.responsible_id else None
    if responsible is not None:
        people.append(responsible)
    return issue_notice(people, kind=kind, issue=issue, title=title)


def place_of(node: Node) -> tuple[Node, Node | None]:
    """The village (or community) and town an issue placed at ``node`` belongs to."""
    if node.level not in (NodeLevel.VILLAGE, NodeLevel.AREA, NodeLevel.GRID):
        raise field_error(
            "node",
            _("Register an issue at a village, community, area or grid."),
            IssueErrorCode.PLACE_LEVEL,
        )
    ancestors = cached(
        ("place_of", node.pk),
        lambda: {n.level: n for n in Node.objects.ancestors_of(node, include_self=True)},
    )
    village = ancestors.get(NodeLevel.VILLAGE)
    if village is None:
        raise field_error(
            "node",
            _("This place is not inside a village or community."),
            IssueErrorCode.NOT_IN_VILLAGE,
        )
    return village, ancestors.get(NodeLevel.TOWN)


def county_of(issue: Issue) -> Node:
    """The county of an issue: the org tree's county of its place, read from the issue's
    materialised path (one query per town for a request, however many issues it touches)."""
    path = issue.node_path or issue.node.path  # the place's path: "/county/town/village/…/"
    county = cached(
        ("county_of", issue.town_id or issue.village_id or issue.node_id),
        lambda: county_on_path(path),
    )
    if county is None:
        message = _("This place is not inside a county.")
        raise ValidationError({"node": ValidationError(message, code=OrgErrorCode.NOT_IN_COUNTY)})
    return county


def dispatch_by_rule_step(issue: Issue, *, department: Department, now: Any) -> list[str]:
    """派单 by a standing rule, on the issue in memory (locked, or not saved yet): checks that
    it waits for dispatch and that the department may take it, sets owner and stage clock, and
    returns the fields changed; the caller saves and records it. Anything refused here is a
    programming error of the rule's author (its checks run when the rule is set)."""
    if Level.DEPARTMENT not in actions.COLOUR_TARGET_LEVELS[issue.colour]:
        raise ValueError(f"a {issue.colour} issue does not go to a department")
    if issue.status != Status.REGISTERED:
        raise IllegalTransition(
            _("This issue was already dispatched."), code=IssueErrorCode.WRONG_STATE
        )
    if department.county_id != county_of(issue).pk:
        raise ValueError("a department of another county")
    issue.responsible = None
    issue.owner_node, issue.owner_department, issue.offered = None, department, False
    changed = deadlines.schedule(issue, start=now, stage="accept")
    return ["owner_node", "owner_department", "offered", "responsible", *changed]


def level_unit(issue: Issue, level: str) -> Node | None:
    """The tree unit that dispatches at a level: the village, the town, or the county."""
    if level == Level.VILLAGE:
        return issue.village
    if level == Level.TOWN:
        return issue.town or issue.village
    return county_of(issue)
