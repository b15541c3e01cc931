"""The visit pages: my households, the form without script, refusals."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import assign, liaison_add
from minqing.issues.models import Issue
from minqing.visits.models import Visit


@pytest.fixture
def leader(county, owner):
    user = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    liaison_add(by=owner, node=county.grid_a1, kind=LiaisonKind.GROUP_LEADER, user=user)
    assign(node=county.village_a, by=owner)
    return user


def _form(household, **kw):
    return {
        "client_uuid": str(uuid.uuid4()),
        "household": str(household.pk),
        "mode": "home",
        "visited_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "notes": "聊了聊收成",
        "materials": "",
        "p1_colour": "green",
        "p1_description": "院里灯泡坏了",
        "p1_resolution": "当场换了",
        "p2_colour": "yellow",
        "p2_description": "灌溉渠堵了",
    } | kw


def test_a_group_leader_lands_on_my_households(client, county, leader):
    client.force_login(leader)
    assert client.get("/").url == reverse("visits:mine")
    page = client.get(reverse("visits:mine")).content.decode()
    assert county.household_a1.head_name in page
    assert county.household_b1.head_name not in page


def test_the_form_without_script_saves_the_visit_and_its_issues_once(client, county, leader):
    client.force_login(leader)
    form = _form(county.household_a1)
    first = client.post(reverse("visits:new"), form)
    assert first.status_code == 302 and first.url == reverse("visits:mine")
    again = client.post(reverse("visits:new"), form)  # a double tap / a refresh
    assert again.status_code == 302
    visit = Visit.objects.get()
    assert sorted(visit.issues.values_list("colour", flat=True)) == ["green", "yellow"]
    assert Issue.objects.count() == 2


def test_a_form_error_keeps_everything_typed(client, county, leader):
    client.force_login(leader)
    response = client.post(
        reverse("visits:new"), _form(county.household_a1, p1_resolution="", notes="要留下的话")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Problem 1: say what was done on the spot." in page
    assert "要留下的话" in page and "灌溉渠堵了" in page and "院里灯泡坏了" in page
    assert not Visit.objects.exists() and not Issue.objects.exists()


def test_a_household_out_of_scope_is_not_found(client, county, leader):
    client.force_login(leader)
    response = client.post(reverse("visits:new"), _form(county.household_b1))
    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_the_household_page_lists_its_visits(client, county, leader, owner):
    client.force_login(leader)
    client.post(reverse("visits:new"), _form(county.household_a1))
    client.force_login(owner)
    page = client.get(reverse("households:detail", args=[county.household_a1.pk])).content.decode()
    assert "聊了聊收成" in page and "灌溉渠堵了" in page


def test_the_service_worker_is_served_for_the_visit_pages(client):
    response = client.get("/visits/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "/static/visits/outbox.js" in response.content.decode()


def test_a_team_visit_names_the_colleagues_who_came_along(client, county, leader, member):
    client.force_login(leader)
    page = client.get(reverse("visits:new")).content.decode()
    assert f'name="companions" value="{member.pk}"' in page  # the grid worker of the same grid
    client.post(reverse("visits:new"), _form(county.household_a1, companions=[str(member.pk)]))
    visit = Visit.objects.get()
    assert list(visit.companions.all()) == [member]


def test_a_colleague_from_another_village_cannot_be_named(client, county, leader, outsider):
    client.force_login(leader)
    response = client.post(
        reverse("visits:new"), _form(county.household_a1, companions=[str(outsider.pk)])
    )
    assert response.status_code == 400
    assert "Only people who look after this place." in response.content.decode()
    assert not Visit.objects.exists()
