"""暖心走访 — a menu version taken to every household of a scope in a window.

Starting a campaign writes one task per household in scope (one SQL statement, whatever the
county's size) for its responsible person in the contact network: the household's current
liaison with an account, a group leader first, then a representative, a party member, a cadre.
A household nobody answers for gets a task for nobody — listed on the progress page as
"no visitor", never skipped. The progress counters of every node of the scope are written in
the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.models import LiaisonKind
from minqing.lib.context import AuditContext
from minqing.lib.errors import InvalidTransition
from minqing.menus.errors import MenuErrorCode
from minqing.menus.models import Campaign, CampaignState, MenuVersion, Progress, Task, VersionState
from minqing.menus.permissions import MenuAction, require
from minqing.org.models import Level, Node, subtree_q

#: Who a household's task goes to, in this order (its current link of that kind, to a liaison
#: with an account: a person without one cannot take the questionnaire on a phone).
ASSIGNEE_ORDER = (
    LiaisonKind.GROUP_LEADER,
    LiaisonKind.REPRESENTATIVE,
    LiaisonKind.PARTY_MEMBER,
    LiaisonKind.CADRE,
)
#: The longest window a campaign may have (the seed's is two weeks).
MAX_WINDOW_DAYS = 92
#: The quality thresholds a campaign may set (a visit under 10 s is no visit; identical answers
#: in two households are common, so the signal starts at three).
MIN_SECONDS_RANGE = (10, 3600)
SAME_ANSWERS_RANGE = (3, 1000)


def campaign_start(
    *,
    by: User,
    version: MenuVersion,
    scope: Node,
    starts_on: dt.date,
    ends_on: dt.date,
    title: str = "",
    call_limit: int = 3,
    min_seconds: int = 90,
    same_answers_limit: int = 10,
    context: AuditContext | None = None,
) -> Campaign:
    """Open a campaign of a published version over ``scope`` (the county or a subtree).

    ``min_seconds`` and ``same_answers_limit`` are the quality signals' thresholds: answers
    given faster are flagged, and one visitor's identical answers in that many households."""
    menu = version.menu
    require(by, MenuAction.RUN_CAMPAIGN, scope)
    errors: dict[str, ValidationError] = {}
    if version.state != VersionState.PUBLISHED:
        errors["version"] = ValidationError(
            _("Only a published version can be taken to the households."),
            code=MenuErrorCode.NOT_PUBLISHED_VERSION,
        )
    if not scope.path.startswith(menu.county.path):
        errors["scope"] = ValidationError(
            _("Choose a place of the menu's county."), code=MenuErrorCode.BAD_WINDOW
        )
    if ends_on < starts_on:
        errors["ends_on"] = ValidationError(
            _("The window ends before it starts."), code=MenuErrorCode.BAD_WINDOW
        )
    elif (ends_on - starts_on).days + 1 > MAX_WINDOW_DAYS:
        errors["ends_on"] = ValidationError(
            _("A campaign lasts at most %(n)d days.") % {"n": MAX_WINDOW_DAYS},
            code=MenuErrorCode.BAD_WINDOW,
        )
    elif ends_on < timezone.localdate():
        errors["ends_on"] = ValidationError(
            _("The window is already over."), code=MenuErrorCode.BAD_WINDOW
        )
    if not 1 <= int(call_limit) <= 10:
        errors["call_limit"] = ValidationError(
            _("Between 1 and 10 phone tries."), code=MenuErrorCode.BAD_WINDOW
        )
    if not MIN_SECONDS_RANGE[0] <= int(min_seconds) <= MIN_SECONDS_RANGE[1]:
        errors["min_seconds"] = ValidationError(
            _("Between %(low)d and %(high)d seconds.")
            % {"low": MIN_SECONDS_RANGE[0], "high": MIN_SECONDS_RANGE[1]},
            code=MenuErrorCode.BAD_WINDOW,
        )
    if not SAME_ANSWERS_RANGE[0] <= int(same_answers_limit) <= SAME_ANSWERS_RANGE[1]:
        errors["same_answers_limit"] = ValidationError(
            _("Between %(low)d and %(high)d households.")
            % {"low": SAME_ANSWERS_RANGE[0], "high": SAME_ANSWERS_RANGE[1]},
            code=MenuErrorCode.BAD_WINDOW,
        )
    if errors:
        raise ValidationError(errors)
    overlapping = Campaign.objects.filter(
        menu=menu, state=CampaignState.OPEN, scope_path__lte=scope.path
    ).filter(scope_path__in=[scope.path[: i + 1] for i, ch in enumerate(scope.path) if ch == "/"])
    below = Campaign.objects.filter(menu=menu, state=CampaignState.OPEN).filter(
        subtree_q(scope.path, "scope_path")
    )
    if overlapping.exists() or below.exists():
        raise ValidationError(
            {
                "scope": ValidationError(
                    _("An open campaign of this menu already covers households of this place."),
                    code=MenuErrorCode.CAMPAIGN_OVERLAP,
                )
            }
        )
    title = " ".join((title or f"{menu.title} · {scope.name}").split())[:200]
    with transaction.atomic():
        campaign = Campaign.objects.create(
            menu=menu,
            version=version,
            county=menu.county,
            scope=scope,
            scope_path=scope.path,
            title=title,
            starts_on=starts_on,
            ends_on=ends_on,
            call_limit=call_limit,
            min_seconds=min_seconds,
            same_answers_limit=same_answers_limit,
            created_by=by,
        )
        made = _make_tasks(campaign)
        rows = write_progress(campaign)
        audit_record(
            action=AuditAction.MENUS_CAMPAIGN_START,
            user=by,
            context=context,
            obj=campaign,
            detail={
                "version": version.pk,
                "scope": scope.pk,
                "tasks": made,
                "window": [starts_on.isoformat(), ends_on.isoformat()],
                "progress_rows": rows,
            },
        )
    return campaign


def _make_tasks(campaign: Campaign) -> int:
    """One task per household in scope, in one INSERT … SELECT."""
    order = " ".join(f"WHEN '{k.value}' THEN {i}" for i, k in enumerate(ASSIGNEE_ORDER))
    # Only constants are formatted in (the kinds above); values go as parameters.
    pick = f"""
        SELECT l.id FROM contacts_contactlink cl JOIN contacts_liaison l ON l.id = cl.liaison_id
        WHERE cl.household_id = h.id AND cl.ended_at IS NULL AND l.active = %s
        ORDER BY CASE WHEN l.user_id IS NULL THEN 1 ELSE 0 END, CASE cl.kind {order} ELSE 9 END,
                 l.id
        LIMIT 1"""  # noqa: S608
    sql = f"""
        INSERT INTO menus_task (campaign_id, household_id, village_id, node_path, place_kind,
                                liaison_id, assignee_id, outcome, done_at, call_attempts, flagged)
        SELECT %s, t.hid, t.village_id, t.path, t.kind, t.liaison_id,
               (SELECT l2.user_id FROM contacts_liaison l2 WHERE l2.id = t.liaison_id),
               '', NULL, 0, %s
        FROM (SELECT h.id AS hid, h.village_id, n.path, v.kind, ({pick}) AS liaison_id
              FROM households_household h
              JOIN org_node n ON n.id = h.node_id
              JOIN org_node v ON v.id = h.village_id
              WHERE n.path >= %s AND n.path < %s) t
    """  # noqa: S608
    path = campaign.scope_path
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, False, True, path, path[:-1] + "0"])
        return int(cursor.rowcount)


PROGRESS_FIELDS = ("total", "unassigned", "home", "phone", "not_reached", "issues")


def counted_progress(campaign: Campaign) -> dict[int, tuple[int, ...]]:
    """``{node id: (total, unassigned, home, phone, not_reached, issues)}`` counted from the
    tasks and the raised issues — what the live counters must hold."""
    from django.db.models import Count, Q

    per_path = (
        Task.objects.filter(campaign=campaign)
        .values("node_path")
        .annotate(
            total=Count("id"),
            unassigned=Count("id", filter=Q(assignee__isnull=True)),
            home=Count("id", filter=Q(outcome="home")),
            phone=Count("id", filter=Q(outcome="phone")),
            not_reached=Count("id", filter=Q(outcome="not_reached")),
        )
        .order_by()
    )
    from minqing.menus.models import RaisedIssue

    # issues raised (not joined) count where the household that raised them lives
    issues_per_path = (
        RaisedIssue.objects.filter(campaign=campaign, joined=False)
        .values_list("response__task__node_path")
        .annotate(n=Count("id"))
        .values_list("response__task__node_path", "n")
        .order_by()
    )
    fields = ("total", "unassigned", "home", "phone", "not_reached")
    sums: dict[int, Counter[str]] = {}
    scope_depth = campaign.scope_path.count("/") - 1

    def below_scope(path: str) -> list[int]:
        ids = [int(p) for p in path.strip("/").split("/")]
        return ids[scope_depth - 1 :] if scope_depth > 0 else ids

    for row in per_path.values_list("node_path", *fields):
        for node_id in below_scope(row[0]):
            c = sums.setdefault(node_id, Counter())
            for f, n in zip(fields, row[1:], strict=True):
                c[f] += n
    for path, n in issues_per_path:
        for node_id in below_scope(path):
            sums.setdefault(node_id, Counter())["issues"] += n
    # the scope's ancestors are not counted: a campaign of one town shows at the town and below
    scope_ids = {int(p) for p in campaign.scope_path.strip("/").split("/")} - {campaign.scope_id}
    out = {
        node_id: tuple(c[f] for f in PROGRESS_FIELDS)
        for node_id, c in sums.items()
        if node_id not in scope_ids
    }
    out.setdefault(campaign.scope_id, (0,) * len(PROGRESS_FIELDS))
    return out


def live_progress(campaign: Campaign) -> dict[int, tuple[int, ...]]:
    return {
        row[0]: tuple(row[1:])
        for row in Progress.objects.filter(campaign=campaign).values_list(
            "node_id", *PROGRESS_FIELDS
        )
    }


def progress_differences(campaign: Campaign) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """``{node id: (live, counted)}`` where the live counters are not what the tasks say."""
    live, counted = live_progress(campaign), counted_progress(campaign)
    zero = (0,) * len(PROGRESS_FIELDS)
    return {
        n: (live.get(n, zero), counted.get(n, zero))
        for n in sorted(set(live) | set(counted))
        if live.get(n, zero) != counted.get(n, zero)
    }


def write_progress(campaign: Campaign) -> int:
    """Write the counters of every node of the scope from the tasks (at the campaign's start,
    and by ``minqing recount_menus --fix``); returns the rows written."""
    counted = counted_progress(campaign)
    with transaction.atomic():
        Progress.objects.filter(campaign=campaign).delete()
        Progress.objects.bulk_create(
            [
                Progress(
                    campaign=campaign, node_id=node_id, **dict(zip(PROGRESS_FIELDS, v, strict=True))
                )
                for node_id, v in counted.items()
            ],
            batch_size=2000,
        )
    return len(counted)


def campaign_close(
    *, by: User, campaign: Campaign, context: AuditContext | None = None
) -> Campaign:
    require(by, MenuAction.RUN_CAMPAIGN, campaign.scope)
    with transaction.atomic():
        closed = (
            Campaign.objects.filter(pk=campaign.pk)
            .exclude(state=CampaignState.CLOSED)
            .update(state=CampaignState.CLOSED)
        )
        if not closed:
            raise InvalidTransition(
                _("This campaign is already closed."), code=MenuErrorCode.CAMPAIGN_CLOSED
            )
        campaign.state = CampaignState.CLOSED
        audit_record(
            action=AuditAction.MENUS_CAMPAIGN_CLOSE,
            user=by,
            context=context,
            obj=campaign,
            detail={"scope": campaign.scope_id},
        )
    return campaign


def county_of(node: Node) -> Node | None:
    if node.level == Level.COUNTY:
        return node
    return Node.objects.county_on_path(node.path)
