"""The issue pages: registration, the actions on the issue page, the board, lists, reports."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minqing.issues.jobs import sweep_deadlines
from minqing.issues.models import Issue, IssueEvent, Status
from minqing.issues.services import issue_dispatch, issue_register, issue_return


def test_register_page_creates_the_issue_and_shows_it(client, county, member, irrigation, clock):
    client.force_login(member)
    url = reverse("issues:register") + f"?household={county.household_a1.pk}"
    page = client.get(url)
    assert page.status_code == 200 and "王建国" in page.content.decode()
    response = client.post(
        url,
        {
            "colour": "blue",
            "category": irrigation.pk,
            "description": "水渠漏水",
            "complexity": "general",
            "source": "visit",
            "reporter_words": "漏了三天了",
        },
    )
    issue = Issue.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/issues/{issue.pk}/"
    assert (issue.household, issue.node, issue.colour) == (
        county.household_a1,
        county.grid_a1,
        "blue",
    )
    assert issue.reporters.get().words == "漏了三天了"


def test_bad_registration_keeps_the_input_and_creates_nothing(
    client, county, member, irrigation, clock
):
    client.force_login(member)
    url = reverse("issues:register") + f"?node={county.grid_a1.pk}"
    response = client.post(
        url,
        {
            "colour": "green",  # green needs what was done on the spot
            "category": irrigation.pk,
            "description": "门前水沟堵了",
            "complexity": "general",
            "source": "visit",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Say what was done on the spot for a green issue." in body
    assert "门前水沟堵了" in body
    assert not Issue.objects.exists() and not IssueEvent.objects.exists()


def test_green_issue_is_closed_on_the_spot(client, county, member, irrigation, clock):
    client.force_login(member)
    client.post(
        reverse("issues:register") + f"?household={county.household_a1.pk}",
        {
            "colour": "green",
            "category": irrigation.pk,
            "description": "渠口被杂草堵住",
            "resolution": "当场清理了杂草",
            "complexity": "general",
            "source": "visit",
        },
    )
    issue = Issue.objects.get()
    assert issue.status == Status.CLOSED
    assert list(issue.events.values_list("action", flat=True)) == [
        "register",
        "resolve",
        "revisit",
        "close",
    ]
    assert issue.reporters.get().reply == "当场清理了杂草"


def test_town_dispatches_from_the_issue_page(
    client, county, member, town, water, departments, register, clock, writes
):
    issue = register()
    client.force_login(town)
    page = client.get(reverse("issues:detail", kwargs={"pk": issue.pk})).content.decode()
    assert f"/issues/{issue.pk}/do/dispatch/" in page
    assert f"/issues/{issue.pk}/do/accept/" not in page  # not the town's to accept
    url = reverse("issues:act", kwargs={"pk": issue.pk, "action": "dispatch"})
    response = client.post(url, {"to": f"dept:{departments.water.pk}", "version": 1})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.owner_department) == (Status.DISPATCHED, departments.water)

    # Sending it again from the same (now stale) page: refused, nothing changes.
    before = writes()
    again = client.post(url, {"to": f"dept:{departments.power.pk}", "version": 1})
    assert again.status_code == 409
    issue.refresh_from_db()
    assert issue.owner_department == departments.water and writes() == before


def test_action_refused_by_role_changes_nothing(
    client, county, member, water, departments, register, clock, writes
):
    issue = register()
    client.force_login(member)
    url = reverse("issues:act", kwargs={"pk": issue.pk, "action": "dispatch"})
    before = writes()
    response = client.post(url, {"to": f"dept:{departments.water.pk}"})
    assert response.status_code == 403
    issue.refresh_from_db()
    assert issue.status == Status.REGISTERED and issue.events.count() == 1
    assert writes() == before


def test_unsatisfied_revisit_without_words_is_refused_with_a_message(
    client, county, town, water, departments, register, clock, writes
):
    from minqing.issues.services import issue_accept, issue_resolve

    issue = register()
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    issue_accept(by=water, issue=issue)
    reporter_replies = {r.pk: "好了" for r in issue.reporters.all()}
    issue_resolve(by=water, issue=issue, resolution="修好", replies=reporter_replies)
    client.force_login(town)
    url = reverse("issues:act", kwargs={"pk": issue.pk, "action": "revisit"})
    before = writes()
    response = client.post(url, {"mode": "phone", "result": "unsatisfied", "words": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED and not issue.revisits.exists()
    assert writes() == before


def test_board_shows_what_waits_for_whom_with_a_constant_number_of_queries(
    client, county, member, town, departments, register, clock, pinned_queries
):
    client.force_login(town)
    url = reverse("issues:board") + f"?node={county.town_a.pk}"

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    register()
    small = queries()
    for n in range(12):
        issue = register(description=f"第{n}处水渠漏水")
        if n % 2:
            issue_dispatch(by=town, issue=issue, to_department=departments.water)
    assert queries() == small
    pinned_queries.pin("issues.board.town", small)
    page = client.get(url).content.decode()
    assert "Waiting for dispatch" in page and "Waiting to be accepted" in page
    assert page.count('class="issue-row"') == 13


def test_board_column_shows_the_most_urgent_and_links_to_all(
    client, county, member, town, water, departments, register, clock
):
    """A column shows the 20 most urgent of its states (returned and registered together),
    earliest deadline first; its link lists every one of them."""
    from minqing.issues.selectors import BOARD_ROWS

    issues = []
    for day in range(BOARD_ROWS + 3):
        clock.set(2026, 11, 2 + day % 25, 9, day)
        issues.append(register(description=f"第{day}处路灯不亮"))
    clock.set(2026, 11, 30, 9, 0)
    # One comes back misrouted today: it is counted in the column, behind older deadlines.
    sent = issue_dispatch(by=town, issue=issues[-1], to_department=departments.water)
    issues[-1] = issue_return(by=water, issue=sent, reason="不归水利局管")
    assert issues[-1].status == Status.RETURNED
    client.force_login(town)
    page = client.get(reverse("issues:board")).content.decode()
    rows = re.findall(r'class="issue-title">#(\d+) ', page)
    by_due = sorted(issues, key=lambda i: (i.due_at, i.pk))
    assert [int(pk) for pk in rows] == [i.pk for i in by_due[:BOARD_ROWS]]
    assert f"Showing the {BOARD_ROWS} most urgent of {BOARD_ROWS + 3}." in page
    listed = client.get(reverse("issues:list") + "?state=to_dispatch").content.decode()
    assert listed.count('class="issue-row"') == BOARD_ROWS + 3
    assert "Waiting for dispatch" in listed
    assert (
        client.get(reverse("issues:list") + "?state=to_accept")
        .content.decode()
        .count('class="issue-row"')
        == 0
    )


def test_issue_page_query_count_does_not_grow_with_its_history(
    client, county, member, town, water, departments, register, clock, pinned_queries
):
    from minqing.issues.services import issue_add_reporter, issue_call_departments

    issue = register()
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    client.force_login(town)
    url = reverse("issues:detail", kwargs={"pk": issue.pk})

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    small = queries()
    for n in range(5):
        issue_add_reporter(by=member, issue=issue, name=f"王{n}", words="也漏")
    issue_call_departments(by=town, issue=issue, departments=[departments.power])
    assert queries() == small
    pinned_queries.pin("issues.page.town", small)


def test_overdue_list_and_late_units_report(
    client, county, member, town, county_user, departments, register, clock
):
    issue = register()
    clock.advance(days=3)
    sweep_deadlines(now=clock.now)
    client.force_login(county_user)
    overdue = client.get(reverse("issues:list") + "?light=red").content.decode()
    late = client.get(reverse("issues:late")).content.decode()
    assert "古井镇" in late and "<td>1</td>" in late
    issue.refresh_from_db()
    assert issue.escalations == 1
    assert issue.title not in overdue  # escalated with a fresh deadline: no longer red


def test_topics_page_proposes_alike_issues_across_villages(
    client, county, member, outsider, county_user, irrigation, clock
):
    from minqing.accounts.models import User

    builder = User.objects.get(username="fixture_builder")
    for node in (county.grid_a1, county.grid_a2, county.grid_b1):
        issue_register(
            by=builder,
            node=node,
            category=irrigation,
            description="灌溉水渠年久失修，到处漏水",
            colour="blue",
        )
    client.force_login(county_user)
    page = client.get(reverse("issues:topics")).content.decode()
    assert page.count('name="issue"') == 3
    ids = list(Issue.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("issues:topic_create"), {"title": "水渠老化", "issue": [str(i) for i in ids]}
    )
    assert response.status_code == 302
    assert set(Issue.objects.values_list("topic__title", flat=True)) == {"水渠老化"}


def test_town_staff_of_one_town_groups_only_its_own_issues(
    client, county, irrigation, clock, writes
):
    """Town staff of 古井镇 who is also a party member of a village of 华佗镇 sees that village's
    issues, but groups only 古井镇's (the question is asked of each issue's place)."""
    from minqing.accounts.models import Role, User
    from minqing.accounts.services import role_assign
    from minqing.conftest import make_user
    from minqing.issues.models import Topic

    builder = User.objects.get(username="fixture_builder")
    own, own_too, other = (
        issue_register(
            by=builder,
            node=node,
            category=irrigation,
            description="灌溉水渠年久失修，到处漏水",
            colour="blue",
        )
        for node in (county.grid_a1, county.grid_a2, county.grid_b1)
    )
    both = make_user("two_towns", Role.TOWN_STAFF, county.town_a)
    role_assign(user=both, role=Role.PARTY_MEMBER, node=county.village_b)
    client.force_login(both)
    assert client.get(reverse("issues:detail", args=[other.pk])).status_code == 200  # sees it
    page = client.get(reverse("issues:topics")).content.decode()
    assert page.count('name="issue"') == 2  # the two of 古井镇 proposed together
    assert f'name="issue" value="{other.pk}"' not in page
    before = writes()
    response = client.post(
        reverse("issues:topic_create"),
        {"title": "水渠老化", "issue": [str(own.pk), str(own_too.pk), str(other.pk)]},
    )
    assert response.status_code == 403
    assert Topic.objects.count() == 0 and writes() == before
    assert set(Issue.objects.values_list("topic", flat=True)) == {None}


def test_everyone_logged_in_can_open_the_lists(client, county, owner, water, clock):
    for user in (owner, water):
        client.force_login(user)
        for name in ("issues:list", "issues:board", "issues:late"):
            assert client.get(reverse(name)).status_code == 200, (user, name)
