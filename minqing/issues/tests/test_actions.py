"""The table of steps (actions.py) is what the services enforce and what the page offers
(nothing is offered that would then be refused): the two agree over every role × state; every note a
form asks for reaches the timeline; the override row is refused to a village cadre with nothing
changed; sending an issue outside its colour's level asks first and records the confirmation; a
stale edit shows what changed and keeps the text; a refused POST re-renders with the text and the
reason."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.issues import actions
from minqing.issues.models import CheckIn, ExtensionRequest, Issue, IssueEvent, Status
from minqing.issues.photos import photo_add
from minqing.issues.services import (
    IllegalTransition,
    extension_decide,
    extension_request,
    issue_accept,
    issue_call_departments,
    issue_check_in,
    issue_close,
    issue_dispatch,
    issue_escalate,
    issue_merge,
    issue_offer,
    issue_raise_colour,
    issue_reopen,
    issue_resolve,
    issue_return,
    issue_revisit,
    issue_sample_revisit,
    issue_start,
    issue_take,
    issue_transfer,
    issue_update,
)
from minqing.issues.services.handling import LevelConfirmationNeeded
from minqing.issues.tests.test_photos import PNG
from minqing.lib.errors import PermissionDenied

# --------------------------------------------------------------------------- issues in every state


def _replies(issue: Issue) -> dict[int, str]:
    return {r.pk: "已处理好" for r in issue.reporters.filter(replied_at__isnull=True)}


def _in_state(state, *, colour, register, county, town, owner, water, departments, target):
    """A new issue of ``colour`` brought to ``state`` through the services."""
    yellow = colour == "yellow"
    issue = register(
        colour=colour,
        household=county.household_a1,
        source="resident" if yellow else "visit",
        description=f"{colour} {state} 的问题",
    )
    if state == Status.REGISTERED:
        return issue
    if state == Status.MERGED:
        issue_merge(by=town, source=issue, target=target)
        return Issue.objects.get(pk=issue.pk)
    dispatcher, handler = (town, water) if yellow else (owner, owner)
    sent = {"to_department": departments.water} if yellow else {"to_node": county.village_a}
    issue = issue_dispatch(by=dispatcher, issue=issue, **sent)
    if state == Status.DISPATCHED:
        return issue
    if state == Status.RETURNED:
        return issue_return(by=handler, issue=issue, reason="不归我们管")
    issue = issue_accept(by=handler, issue=issue)
    if state == Status.ACCEPTED:
        return issue
    issue = issue_start(by=handler, issue=issue)
    if state == Status.IN_PROGRESS:
        return issue
    issue = issue_resolve(by=handler, issue=issue, resolution="修好了", replies=_replies(issue))
    if state == Status.RESOLVED:
        return issue
    if state == Status.REOPENED:
        issue_revisit(
            by=dispatcher, issue=issue, mode="phone", result="unsatisfied", words="没修好"
        )
        return Issue.objects.get(pk=issue.pk)
    issue_revisit(by=dispatcher, issue=issue, mode="phone", result="satisfied")
    issue = Issue.objects.get(pk=issue.pk)
    if state == Status.REVISITED:
        return issue
    return issue_close(by=dispatcher, issue=issue)


def _take_step(name, user, issue, *, departments, town, target):
    """Run the service of step ``name`` with valid input (the table decides; input never does)."""
    kw = {"by": user, "issue": issue}
    if name == "dispatch":
        if issue.colour == "yellow":
            return issue_dispatch(**kw, to_department=departments.water)
        return issue_dispatch(**kw, to_node=issue.village)
    other = departments.power if issue.owner_department_id != departments.power.pk else None
    calls = {
        "accept": lambda: issue_accept(**kw, note="明天到现场"),
        "start": lambda: issue_start(**kw, note="已开工"),
        "resolve": lambda: issue_resolve(**kw, resolution="已修好", replies=_replies(issue)),
        "revisit": lambda: issue_revisit(**kw, mode="phone", result="satisfied"),
        "close": lambda: issue_close(**kw),
        "close_override": lambda: issue_close(**kw, override_reason="住户已搬走"),
        "return": lambda: issue_return(**kw, reason="派错了"),
        "transfer": lambda: issue_transfer(**kw, reason="转供电", to_department=other),
        "extension_request": lambda: extension_request(**kw, workdays=3, reason="材料未到"),
        "decide": lambda: extension_decide(
            by=user, extension=issue.extensions.get(decision="pending"), approve=True
        ),
        "escalate": lambda: issue_escalate(**kw, reason="迟迟不办"),
        "raise_colour": lambda: issue_raise_colour(**kw, colour="orange", reason="更复杂"),
        "check_in": lambda: issue_call_departments(**kw, departments=[departments.power]),
        "report_in": lambda: issue_check_in(**kw, note="已到"),
        "offer": lambda: issue_offer(**kw, note="请共建单位接单"),
        "take": lambda: issue_take(**kw, note="下午上门"),
        "merge": lambda: issue_merge(by=user, source=issue, target=target, reason="同一件事"),
        "sample_revisit": lambda: issue_sample_revisit(**kw, mode="phone", result="satisfied"),
        "reopen": lambda: issue_reopen(**kw, reason="又坏了"),
        "edit": lambda: issue_update(**kw, data={"title": "改过的标题"}, version=None),
        "photo": lambda: photo_add(**kw, data=PNG),
    }
    return calls[name]()


class _Undo(Exception):
    pass


def _prepare(name, issue, *, town, departments):
    """What a step needs besides the state: a pending request, a call, an offered order."""
    if name == "decide":
        ExtensionRequest.objects.create(issue=issue, requested_by=town, workdays=2, reason="等料")
    elif name == "report_in":
        CheckIn.objects.create(issue=issue, department=departments.water, called_by=town)
    elif name == "take" and issue.status in (Status.REGISTERED, Status.RETURNED, Status.DISPATCHED):
        Issue.objects.filter(pk=issue.pk).update(offered=True, owner_node=None)
    return Issue.objects.select_related("owner_node", "owner_department").get(pk=issue.pk)


@pytest.mark.parametrize("colour", ["blue", "yellow"])
def test_the_table_and_the_services_agree_for_every_role_and_state(
    colour,
    clock,
    county,
    member,
    owner,
    outsider,
    town,
    water,
    shop,
    county_user,
    departments,
    register,
):
    """For each (person × state × step): the table allows it ⇔ the service does it; a refusal
    is PermissionDenied or IllegalTransition and writes nothing."""
    target = register(colour="blue", description="同村另一处渠道漏水")
    people = [member, owner, outsider, town, water, shop, county_user]
    states = [s for s in Status.values]
    checked = {True: 0, False: 0}
    for state in states:
        issue = _in_state(
            state,
            colour=colour,
            register=register,
            county=county,
            town=town,
            owner=owner,
            water=water,
            departments=departments,
            target=target,
        )
        assert issue.status == state
        for person in people:
            for name in actions.STEPS:
                events = IssueEvent.objects.count()
                try:
                    with transaction.atomic():
                        fresh = _prepare(name, issue, town=town, departments=departments)
                        allowed = actions.allowed(person, name, fresh)
                        before = IssueEvent.objects.count()
                        try:
                            _take_step(
                                name,
                                person,
                                fresh,
                                departments=departments,
                                town=town,
                                target=target,
                            )
                        except (PermissionDenied, IllegalTransition) as exc:
                            assert not allowed, (colour, state, person.username, name, exc)
                            assert IssueEvent.objects.count() == before, (state, name)
                        else:
                            assert allowed, (colour, state, person.username, name)
                        checked[allowed] += 1
                        raise _Undo
                except _Undo:
                    pass
                assert IssueEvent.objects.count() == events
    # Both sides were exercised: many steps allowed, many refused.
    assert checked[True] > 40 and checked[False] > 500, checked


# --------------------------------------------------------------------------- the page


def _act(client, issue, name, data):
    return client.post(reverse("issues:act", kwargs={"pk": issue.pk, "action": name}), data)


def test_the_accept_note_reaches_the_timeline(client, clock, town, water, departments, register):
    issue = issue_dispatch(by=town, issue=register(), to_department=departments.water)
    client.force_login(water)
    page = client.get(reverse("issues:detail", kwargs={"pk": issue.pk})).content.decode()
    assert 'id="accept-note"' in page
    response = _act(
        client, issue, "accept", {"note": "明天上午带人到现场", "version": issue.version}
    )
    assert response.status_code == 302
    event = IssueEvent.objects.get(issue=issue, action="accept")
    assert (event.note, event.actor) == ("明天上午带人到现场", water)
    followed = client.get(response["Location"]).content.decode()
    assert "Accepted: it is in your hands now." in followed
    assert "明天上午带人到现场" in followed  # on the timeline


def test_every_form_field_reaches_its_service(
    client, clock, county, town, water, shop, departments, member, irrigation
):
    """The take note and the transfer reason (the transfer form has no note any more)."""
    from minqing.issues.services import issue_register

    order = issue_register(
        by=member,
        node=county.grid_a1,
        category=irrigation,
        description="水管冻裂了",
        colour="yellow",
        source="resident",
        reporter_name="王秀英",
    )
    issue_offer(by=town, issue=order)
    client.force_login(shop)
    assert _act(client, order, "take", {"note": "下午三点上门"}).status_code == 302
    assert IssueEvent.objects.get(issue=order, action="take").note == "下午三点上门"
    form = actions.STEPS["transfer"].form(Issue.objects.get(pk=order.pk), shop, None)
    assert set(form.fields) == {"to", "reason"}


def test_close_without_a_satisfied_revisit_is_never_offered_to_a_village_cadre(
    client, clock, county, owner, town, register, writes
):
    issue = register(colour="blue")
    issue = issue_dispatch(by=owner, issue=issue, to_node=county.village_a)
    issue = issue_accept(by=owner, issue=issue)
    issue = issue_resolve(by=owner, issue=issue, resolution="已修好", replies=_replies(issue))
    client.force_login(owner)
    url = reverse("issues:detail", kwargs={"pk": issue.pk})
    page = client.get(url).content.decode()
    assert "/do/revisit/" in page
    assert "/do/close_override/" not in page and "/do/close/" not in page
    assert not actions.allowed(owner, "close_override", issue)

    events, audits = IssueEvent.objects.count(), AuditEvent.objects.count()
    response = _act(
        client, issue, "close_override", {"override_reason": "住户外出打工联系不上", "version": 5}
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "住户外出打工联系不上" in body  # the typed reason is kept on the page
    assert "Only town or county supervisors may close without a satisfied revisit." in body
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED and issue.closed_at is None
    assert (IssueEvent.objects.count(), AuditEvent.objects.count()) == (events, audits)
    before = writes()
    with pytest.raises(PermissionDenied):
        issue_close(by=owner, issue=issue, override_reason="住户外出打工联系不上")
    assert writes() == before

    # The town may: the row is offered to it, and it works.
    client.force_login(town)
    assert "/do/close_override/" in client.get(url).content.decode()
    done = _act(client, issue, "close_override", {"override_reason": "住户已搬走"})
    assert done.status_code == 302
    issue.refresh_from_db()
    assert issue.status == Status.CLOSED
    assert issue.events.get(action="close").data == {"override": True}


def test_dispatch_outside_the_colours_level_asks_first_and_records_the_confirmation(
    client, clock, county, owner, town, departments, register, writes
):
    issue = register(colour="blue")
    before = writes()
    with pytest.raises(LevelConfirmationNeeded):
        issue_dispatch(by=town, issue=issue, to_department=departments.water)
    assert writes() == before
    client.force_login(town)
    to = f"dept:{departments.water.pk}"
    before = writes()
    asked = _act(client, issue, "dispatch", {"to": to, "note": "需要水利局出方案", "version": 1})
    assert asked.status_code == 200
    assert writes() == before  # asked, not sent
    body = asked.content.decode()
    assert "This issue is blue (village level); send it to 区水利局 all the same?" in body
    assert 'name="confirm_to" value="' + to + '"' in body
    assert "需要水利局出方案" in body
    issue.refresh_from_db()
    assert issue.status == Status.REGISTERED and issue.version == 1

    # A changed choice is asked about again, not sent on the old confirmation.
    power = f"dept:{departments.power.pk}"
    again = _act(client, issue, "dispatch", {"to": power, "confirm_to": to, "version": 1})
    assert (
        again.status_code == 200 and "send it to 供电公司 all the same?" in again.content.decode()
    )

    sent = _act(
        client,
        issue,
        "dispatch",
        {"to": to, "confirm_to": to, "note": "需要水利局出方案", "version": 1},
    )
    assert sent.status_code == 302
    event = IssueEvent.objects.get(issue=issue, action="dispatch")
    assert event.note == "需要水利局出方案"
    assert event.data == {
        "to": "区水利局",
        "level_confirmed": True,
        "colour": "blue",
        "to_level": "department",
    }
    audit = AuditEvent.objects.get(action="issue.dispatch", object_id=str(issue.pk))
    assert audit.detail["level_confirmed"] is True
    followed = client.get(sent["Location"]).content.decode()
    assert "Sent to 区水利局." in followed


def test_dispatch_within_the_level_asks_nothing(client, clock, town, departments, register):
    issue = register(colour="yellow")
    client.force_login(town)
    sent = _act(client, issue, "dispatch", {"to": f"dept:{departments.water.pk}", "version": 1})
    assert sent.status_code == 302
    assert "level_confirmed" not in IssueEvent.objects.get(issue=issue, action="dispatch").data


def test_a_stale_edit_shows_what_changed_and_sends_the_same_text_again(
    client, clock, county, town, departments, register, writes
):
    issue = register(colour="yellow")
    colleague = make_user("town2", Role.TOWN_STAFF, county.town_a)
    issue_call_departments(by=colleague, issue=issue, departments=[departments.power])
    client.force_login(town)
    data = {"to": f"dept:{departments.water.pk}", "note": "请三天内到现场", "version": 1}
    before = writes()
    stale = _act(client, issue, "dispatch", data)
    assert stale.status_code == 409
    assert writes() == before
    body = stale.content.decode()
    assert "Changed since you opened this page" in body
    assert "Departments called (吹哨)" in body  # the colleague's step
    assert "请三天内到现场" in body  # the typed note stays
    assert 'name="version" value="2"' in body  # the form now builds on the new version
    assert 'id="act-dispatch" open' in body
    issue.refresh_from_db()
    assert issue.status == Status.REGISTERED

    again = _act(client, issue, "dispatch", {**data, "version": 2})
    assert again.status_code == 302
    assert IssueEvent.objects.get(issue=issue, action="dispatch").note == "请三天内到现场"


def test_a_refused_post_keeps_the_text_and_says_why(
    client, clock, member, departments, register, writes
):
    issue = register()
    client.force_login(member)
    before = writes()
    response = _act(
        client,
        issue,
        "dispatch",
        {"to": f"dept:{departments.water.pk}", "note": "我觉得该水利局管", "version": 1},
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "Only the dispatcher of this issue can send it." in body
    assert "我觉得该水利局管" in body and 'id="kept"' in body
    assert issue.events.count() == 1 and writes() == before


def test_invalid_input_is_summarised_on_top_with_a_link_to_the_field(
    client, clock, town, water, departments, register, writes
):
    issue = issue_dispatch(by=town, issue=register(), to_department=departments.water)
    issue = issue_accept(by=water, issue=issue)
    client.force_login(water)
    before = writes()
    response = _act(client, issue, "return", {"reason": "", "version": issue.version})
    assert response.status_code == 400
    assert writes() == before
    body = response.content.decode()
    summary = body[body.index('id="problems"') :]
    assert '<a href="#return-reason">Reason: This field is required.</a>' in summary
    assert 'id="act-return" open' in body


# --------------------------------------------------------------------------- registration


def test_another_household_is_refused_once_the_issue_closed_under_the_lock(
    clock, county, member, owner, register, monkeypatch
):
    """The state is checked after ``select_for_update``: a close committed between the page's
    read and the lock refuses the report (before the fix the stale, open copy let it in)."""
    from minqing.issues.services import issue_add_reporter, registration

    issue = register(colour="blue")
    seen = Issue.objects.get(pk=issue.pk)  # what the attach page read: still open
    real_locked = registration.locked

    def close_then_lock(issue, version=None):
        # Another request closes the issue and commits just before this one takes the lock.
        Issue.objects.filter(pk=issue.pk).update(status=Status.CLOSED)
        return real_locked(issue, version)

    monkeypatch.setattr(registration, "locked", close_then_lock)
    reporters, events = issue.reporters.count(), issue.events.count()
    with pytest.raises(IllegalTransition, match="register a new one instead"):
        issue_add_reporter(by=member, issue=seen, household=county.household_a2, words="也漏")
    # Only the other request's close happened: no reporter, no timeline entry of this one.
    assert (issue.reporters.count(), issue.events.count()) == (reporters, events)
    assert issue.reporters.filter(household=county.household_a2).count() == 0
