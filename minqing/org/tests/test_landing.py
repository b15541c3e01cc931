"""The home page by role: each role lands on its work, never on "no jurisdiction"."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import liaison_add
from minqing.issues.jobs import sweep_deadlines
from minqing.issues.models import LateRecord
from minqing.issues.services import issue_dispatch
from minqing.org.services import node_create

NO_JURISDICTION = "covers no part of the organisation tree"


def _home(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("org:home"))
    return response, len(ctx.captured_queries)


def _ids(html: str, section: str) -> list[int]:
    """Issue numbers listed under the heading with id ``section`` (up to the next heading)."""
    part = html.split(f'id="{section}"', 1)[1].split("<h2", 1)[0]
    return [int(n) for n in re.findall(r'class="issue-title">#(\d+) ', part)]


def test_department_lands_on_its_queue_to_accept_and_its_overdue_work(
    client, county, town, water, departments, register, clock, pinned_queries
):
    waiting = register(description="村东头的灌溉水渠破了")
    late = register(description="二组的机井抽不上水")
    other = register(description="一组的电线杆歪了")
    issue_dispatch(by=town, issue=waiting, to_department=departments.water)
    issue_dispatch(by=town, issue=late, to_department=departments.water)
    issue_dispatch(by=town, issue=other, to_department=departments.power)
    clock.advance(days=1)
    from minqing.issues.services import issue_accept

    issue_accept(by=water, issue=late)
    clock.advance(days=30)  # past every deadline
    client.force_login(water)
    response, few = _home(client)
    assert response.status_code == 200
    page = response.content.decode()
    assert NO_JURISDICTION not in page and "区水利局" in page
    assert _ids(page, "to-accept") == [waiting.pk]
    # overdue work it accepted; the overdue one still to accept is in the queue, in red
    assert _ids(page, "overdue") == [late.pk]
    stats = re.findall(r'<a class="stat"[^>]*><b[^>]*>(\d+)</b>', page)
    assert stats == ["1", "2", "1"]  # to accept, overdue, being handled
    assert f"#{other.pk} " not in page  # the power company's issue is not the bureau's
    for n in range(6):
        issue_dispatch(
            by=town, issue=register(description=f"第{n}处水渠漏水"), to_department=departments.water
        )
    response, many = _home(client)
    assert many == few
    pinned_queries.pin("org.home.department", many)
    assert len(_ids(response.content.decode(), "to-accept")) == 7


def test_command_centre_sees_open_overdue_and_late_figures_by_town(
    client, county, county_user, town, member, register, clock, pinned_queries
):
    register(description="村东头的灌溉水渠破了")
    register(description="二组的机井抽不上水")
    clock.advance(days=30)
    sweep_deadlines()  # both ran late: one late record each, escalated to the town
    LateRecord.objects.update(recorded_at=clock.now)  # the model's default reads the real clock
    clock.advance(days=20)  # and late again at the town, not yet swept
    register(description="刚登记的问题")
    client.force_login(county_user)
    response, few = _home(client)
    assert response.status_code == 200
    page = response.content.decode()
    rows = dict(
        (name, [int(n) for n in re.findall(r">(\d+)<", cells)])
        for name, cells in re.findall(
            r'<th scope="row">.*?>([^<>]+)</a></th>(.*?)</tr>', page, re.S
        )
    )
    # open, overdue, deadline approaching, missed in 30 days
    assert rows["古井镇"][:2] == [3, 2] and rows["古井镇"][3] == 2
    assert rows["华佗镇"] == [0, 0, 0, 0]
    for n in range(5):  # more towns: the same number of queries
        node_create(name=f"新镇{n}", level=county.town_a.level, parent=county.county)
    response, many = _home(client)
    assert many == few
    pinned_queries.pin("org.home.command_centre", many)
    assert response.content.decode().count('<th scope="row">') == 7


def test_auditor_lands_on_the_audit_log(client, county, auditor):
    client.force_login(auditor)
    response = client.get(reverse("org:home"))
    assert response.status_code == 302 and response["Location"] == reverse("audit:log")


def test_group_leader_keeps_my_households(client, county, owner):
    leader = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    liaison_add(by=owner, node=county.grid_a1, kind=LiaisonKind.GROUP_LEADER, user=leader)
    client.force_login(leader)
    response = client.get(reverse("org:home"))
    assert response.status_code == 302 and response["Location"] == reverse("visits:mine")


def test_village_and_town_users_keep_their_tree(client, county, owner, town):
    for user, node in ((owner, county.village_a), (town, county.town_a)):
        client.force_login(user)
        response = client.get(reverse("org:home"))
        assert response.status_code == 302
        assert response["Location"] == reverse("org:node", kwargs={"pk": node.pk})


def test_command_centre_can_still_browse_the_tree(client, county, county_user):
    client.force_login(county_user)
    response = client.get(reverse("org:home") + "?tree=1")
    assert response["Location"] == reverse("org:node", kwargs={"pk": county.county.pk})


def test_roles_without_places_get_their_pages_not_no_jurisdiction(client, county):
    sysadmin = make_user("sysadmin", Role.SYSTEM_ADMIN)
    client.force_login(sysadmin)
    page = client.get(reverse("org:home")).content.decode()
    assert NO_JURISDICTION not in page
    assert reverse("issues:settings") in page and "System administrator" in page
    nobody = make_user("nobody")
    client.force_login(nobody)
    assert NO_JURISDICTION in client.get(reverse("org:home")).content.decode()
