"""An issue a standing rule registers and sends on at once (a quarterly-menu answer): the one
step ``issue_register(dispatch_by_rule=…)`` leaves exactly what registering and then
``issue_dispatch_by_rule`` leave — the issue's state and clocks, its timeline, its audit rows
and who is told — in fewer writes."""

from __future__ import annotations

from minqing.audit.models import AuditEvent
from minqing.issues.models import Colour, IssueEvent, Status
from minqing.issues.services import issue_dispatch_by_rule
from minqing.notifications.models import Notification

RULE = "四季菜单：饮水是否正常：否"


def _trace(issue):
    events = list(
        IssueEvent.objects.filter(issue=issue)
        .order_by("pk")
        .values_list("action", "from_status", "to_status", "note", "data", "actor_id", "at")
    )
    audit = list(
        AuditEvent.objects.filter(object_type="issues.issue", object_id=str(issue.pk))
        .order_by("pk")
        .values_list("action", "username", "user_id_value", "detail")
    )
    told = sorted(
        Notification.objects.filter(
            object_type="issues.issue", object_id=str(issue.pk)
        ).values_list("recipient__username", "kind", "title")
    )
    issue.refresh_from_db()
    state = (
        issue.status,
        issue.version,
        issue.owner_node_id,
        issue.owner_department_id,
        issue.responsible_id,
        issue.offered,
        issue.stage_started_at,
        issue.due_at,
        issue.warn_at,
        issue.final_due_at,
        issue.deadline_estimated,
    )
    return state, events, audit, told


def test_one_step_leaves_what_the_two_steps_leave(
    clock, county, departments, register, member, town, water
):
    household = county.household_a1
    kw = {
        "node": household.node,
        "household": household,
        "colour": Colour.YELLOW,
        "description": "饮水是否正常：否",
        "for_household_task": True,
    }
    two = register(**kw)
    issue_dispatch_by_rule(issue=two, department=departments.water, rule=RULE)
    one = register(**kw, dispatch_by_rule=(departments.water, RULE))

    assert _trace(one) == _trace(two)
    state, events, audit, told = _trace(one)
    assert state[0] == Status.DISPATCHED and state[3] == departments.water.pk
    assert [(e[0], e[2], e[3]) for e in events] == [
        ("register", Status.REGISTERED, "饮水是否正常：否"),
        ("dispatch", Status.DISPATCHED, RULE),
    ]
    assert [(a[1], a[3].get("rule")) for a in audit] == [("member", None), ("worker", RULE)]
    assert told == [
        ("town", "issue.registered", "New issue"),
        ("water", "issue.dispatched", "Issue sent to you"),
    ]


def test_a_green_issue_is_not_sent_on(clock, county, departments, register, member):
    issue = register(
        node=county.household_a1.node,
        household=county.household_a1,
        colour=Colour.GREEN,
        resolution="当场修好了水龙头",
        dispatch_by_rule=(departments.water, RULE),
    )
    issue.refresh_from_db()
    assert issue.status == Status.CLOSED and issue.owner_department_id is None
