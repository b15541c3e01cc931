"""Liaison pages and the household section: adding from a resident or an account, retiring,
hand-set links and their release, and who may do what (404 outside, 403 without the role)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import add_child, make_user
from minqing.contacts.models import AssignmentRule, ContactLink, Liaison, LiaisonKind
from minqing.contacts.services import assign, liaison_add, link_set, rules_for
from minqing.households.models import Politics
from minqing.households.services import resident_add
from minqing.lib.fields import plain

GL = LiaisonKind.GROUP_LEADER
PM = LiaisonKind.PARTY_MEMBER


@pytest.fixture
def rep(county):
    """A villagers' representative of 王庄村: in scope there, but may not manage."""
    return make_user("rep", Role.REPRESENTATIVE, county.village_a)


def _party_member(county, name, *, age, works_away=False, seq=31):
    today = dt.date.today()  # noqa: DTZ011 - a calendar date
    return resident_add(
        by=make_user(f"b{seq}", Role.COMMAND_CENTRE, county.county),
        household=county.household_a1,
        data={
            "name": name,
            "relation": "child",
            "sex": "M",
            "birth_date": today.replace(year=today.year - age, day=min(today.day, 28)),
            "politics": Politics.PARTY,
            "works_away": works_away,
            "phone": "13600001111",
        },
    )


def _leaders(county, by):
    a = liaison_add(by=by, node=county.grid_a1, kind=GL, name="组长甲", phone="13800000001")
    b = liaison_add(by=by, node=county.grid_a2, kind=GL, name="组长乙", phone="13800000002")
    return a, b


def _leaders_only(county):
    rules_for(county.county)
    AssignmentRule.objects.filter(county=county.county).exclude(kind=GL).update(active=False)


def _add_url(county):
    return reverse("contacts:liaison_add", args=[county.village_a.pk])


# --------------------------------------------------------------------------- adding


def test_a_mobile_party_member_is_added_from_a_resident_of_the_village(client, county, owner):
    resident = _party_member(county, "王志强", age=40, works_away=True)
    client.force_login(owner)

    page = client.get(_add_url(county), {"resident": resident.pk})
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["kind"] == PM and form.initial["category"] == "mobile"
    assert form.initial["node"] == county.grid_a1.pk  # the resident's own group
    assert "136****1111" in page.content.decode()  # the phone it will use, masked

    before = AuditEvent.objects.filter(action="contacts.liaison_add").count()
    response = client.post(
        _add_url(county),
        {
            "resident": resident.pk,
            "kind": PM,
            "node": county.grid_a1.pk,
            "category": "mobile",
            "name": "",
            "phone": "",
            "capacity": "",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:liaisons", args=[county.village_a.pk])
    liaison = Liaison.objects.get()
    assert (liaison.village_id, liaison.node_id) == (county.village_a.pk, county.grid_a1.pk)
    assert (liaison.kind, liaison.category, liaison.name) == (PM, "mobile", "王志强")
    assert liaison.resident_id == resident.pk and plain(liaison.phone) == "13600001111"
    assert liaison.capacity is None and liaison.active
    events = AuditEvent.objects.filter(action="contacts.liaison_add")
    assert events.count() == before + 1
    event = events.latest("id")
    assert event.object_id == str(liaison.pk) and event.user_id_value == owner.pk
    assert event.detail["category"] == "mobile" and event.detail["resident"] == resident.pk


def test_a_young_party_member_is_suggested_young(client, county, owner):
    resident = _party_member(county, "王小军", age=28)
    client.force_login(owner)
    page = client.get(_add_url(county), {"resident": resident.pk})
    assert page.context["form"].initial["category"] == "young"
    assert page.context["suggestion"].why == "Party member aged 28."


def test_search_lists_adults_of_the_village_only(client, county, owner):
    child = add_child(owner, county.household_a1, "王小宝")
    client.force_login(owner)

    found = client.get(_add_url(county), {"q": "王"}).context["found"]
    assert [r.name for r in found] == ["王建国", "王秀英"]  # not the child
    assert client.get(_add_url(county), {"q": "李"}).context["found"] == []  # 李集村's
    response = client.post(
        _add_url(county), {"resident": child.pk, "kind": GL, "node": county.grid_a1.pk}
    )
    assert response.status_code == 400 and not Liaison.objects.exists()


def test_a_resident_of_another_village_cannot_be_slipped_in(client, county, owner):
    client.force_login(owner)
    response = client.post(
        _add_url(county),
        {"resident": county.resident_b1.pk, "kind": GL, "node": county.grid_a1.pk, "name": "x"},
    )
    assert response.status_code == 400
    assert "Choose a person of this village." in response.content.decode()
    assert not Liaison.objects.exists()


def test_an_account_holding_a_role_here_becomes_a_group_leader(client, county, owner):
    leader = make_user("leader", Role.GROUP_LEADER, county.grid_a2)
    leader.phone = "13912340000"
    leader.save()
    client.force_login(owner)
    page = client.get(_add_url(county), {"user": leader.pk})
    assert [a.user_id for a in page.context["accounts"]] == [owner.pk, leader.pk]
    assert page.context["form"].initial["kind"] == GL

    response = client.post(
        _add_url(county), {"user": leader.pk, "kind": GL, "node": county.grid_a2.pk}
    )

    assert response.status_code == 302
    liaison = Liaison.objects.get()
    assert (liaison.user_id, liaison.name, plain(liaison.phone)) == (
        leader.pk,
        "leader",
        "13912340000",
    )


def test_name_and_phone_errors_keep_the_input(client, county, owner):
    client.force_login(owner)
    response = client.post(
        _add_url(county),
        {"kind": GL, "node": county.grid_a2.pk, "name": "", "phone": "12345", "capacity": "80"},
    )

    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"name", "phone"}
    html = response.content.decode()
    assert 'value="12345"' in html and 'value="80"' in html
    assert f'<option value="{county.grid_a2.pk}" selected>' in html
    assert not Liaison.objects.exists()
    assert not AuditEvent.objects.filter(action="contacts.liaison_add").exists()


def test_a_retired_resident_comes_back_as_the_same_liaison(county, owner):
    resident = _party_member(county, "王志强", age=50)
    first = liaison_add(by=owner, node=county.grid_a1, kind=PM, resident=resident)
    first.active = False
    first.save()
    again = liaison_add(
        by=owner, node=county.grid_a2, kind=PM, resident=resident, category="ordinary"
    )
    assert again.pk == first.pk and again.active and again.node_id == county.grid_a2.pk
    assert Liaison.objects.count() == 1


# --------------------------------------------------------------------------- the list, retiring


def test_the_list_shows_load_against_capacity_by_kind(client, county, owner):
    a, b = _leaders(county, owner)
    Liaison.objects.filter(pk=b.pk).update(capacity=1)
    _leaders_only(county)
    link_set(by=owner, household=county.household_a2, liaison=a)
    ContactLink.objects.create(household=county.household_a1, liaison=b, kind=GL)
    ContactLink.objects.create(household=county.household_b1, liaison=b, kind=PM)
    client.force_login(owner)

    page = client.get(reverse("contacts:liaisons", args=[county.village_a.pk]))

    groups = {g.kind: g for g in page.context["groups"]}
    assert [(p.name, p.load, p.capacity_or_rule) for p in groups[GL].liaisons] == [
        ("组长甲", 1, 120),
        ("组长乙", 2, 1),
    ]
    assert groups[PM].liaisons == []
    html = page.content.decode()
    assert "138****0001" in html and "13800000001" not in html
    assert "over capacity" in html
    assert reverse("contacts:liaison_retire", args=[a.pk]) in html


def test_retiring_asks_first_then_ends_hand_set_links_only(client, county, owner):
    a, b = _leaders(county, owner)
    _leaders_only(county)
    assign(node=county.village_a, by=owner)
    link_set(by=owner, household=county.household_a2, liaison=a)  # by hand, from 乙 to 甲
    by_engine = ContactLink.objects.get(household=county.household_a1, ended_at=None)
    assert by_engine.liaison_id == a.pk and not by_engine.manual
    client.force_login(owner)
    url = reverse("contacts:liaison_retire", args=[a.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert (confirm.context["load"], confirm.context["manual"]) == (2, 1)
    a.refresh_from_db()
    assert a.active  # asking changes nothing

    response = client.post(url)

    assert response.status_code == 302
    a.refresh_from_db()
    assert not a.active
    assert ContactLink.objects.get(household=county.household_a1, ended_at=None).pk == (
        by_engine.pk
    )  # until the next run
    assert not ContactLink.objects.filter(household=county.household_a2, ended_at=None).exists()
    event = AuditEvent.objects.filter(action="contacts.liaison_retire").get()
    assert event.detail == {"manual_links_ended": 1}

    assign(node=county.village_a, by=owner)
    current = ContactLink.objects.current().filter(kind=GL)
    assert set(current.values_list("household_id", "liaison_id")) == {
        (county.household_a1.pk, b.pk),
        (county.household_a2.pk, b.pk),
    }


# --------------------------------------------------------------------------- hand-set links


def test_a_hand_set_link_survives_assignment_and_release_lets_it_move(client, county, owner):
    a, b = _leaders(county, owner)
    _leaders_only(county)
    client.force_login(owner)
    household = county.household_a1  # in 一组, whose leader is 甲

    response = client.post(reverse("contacts:link_set", args=[household.pk]), {"liaison": b.pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("households:detail", args=[household.pk]) + "#contacts"
    assign(node=county.village_a, by=owner)
    assign(node=county.village_a, by=owner)
    link = ContactLink.objects.get(household=household, ended_at=None)
    assert (link.liaison_id, link.manual) == (b.pk, True)
    assert AuditEvent.objects.filter(action="contacts.link").count() == 1

    response = client.post(reverse("contacts:link_release", args=[link.pk]))
    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.manual, link.ended_at) == (False, None)  # stays until the next run
    assign(node=county.village_a, by=owner)

    current = dict(
        ContactLink.objects.current().filter(kind=GL).values_list("household_id", "liaison_id")
    )
    assert current == {household.pk: a.pk, county.household_a2.pk: b.pk}
    assert AuditEvent.objects.filter(action="contacts.release").count() == 1


def test_the_household_section_shows_people_and_the_form_to_managers_only(
    client, county, owner, member
):
    a, b = _leaders(county, owner)
    link_set(by=owner, household=county.household_a1, liaison=b)
    url = reverse("households:detail", args=[county.household_a1.pk])

    client.force_login(owner)
    html = client.get(url).content.decode()
    assert "组长乙" in html and "138****0002" in html and "13800000002" not in html
    assert "set by hand" in html
    assert reverse("contacts:link_set", args=[county.household_a1.pk]) in html
    assert reverse("contacts:link_release", args=[ContactLink.objects.get().pk]) in html
    assert "Party member" in html  # the kind nobody covers yet

    client.force_login(member)  # a grid worker sees the people, may not change them
    html = client.get(url).content.decode()
    assert "组长乙" in html
    assert reverse("contacts:link_set", args=[county.household_a1.pk]) not in html


def test_the_household_page_reads_the_section_in_a_fixed_number_of_queries(
    client, county, owner, django_assert_num_queries, pinned_queries
):
    a, _b = _leaders(county, owner)
    link_set(by=owner, household=county.household_a1, liaison=a)
    url = reverse("households:detail", args=[county.household_a1.pk])
    client.force_login(owner)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(3):
        liaison_add(by=owner, node=county.grid_a1, kind=PM, name=f"党员{i}", phone="13800000003")
    link_set(by=owner, household=county.household_a1, liaison=Liaison.objects.filter(kind=PM)[0])
    with django_assert_num_queries(len(few)):
        client.get(url)
    pinned_queries.pin("households.page.village_cadre", few)


# --------------------------------------------------------------------------- who may


def _state():
    return (
        Liaison.objects.count(),
        Liaison.objects.filter(active=True).count(),
        ContactLink.objects.count(),
        ContactLink.objects.filter(manual=True, ended_at=None).count(),
        AuditEvent.objects.count(),
    )


def _every_change(county, liaison, link):
    return [
        (reverse("contacts:liaison_add", args=[county.village_a.pk]), {"kind": GL, "name": "某"}),
        (reverse("contacts:liaison_add", args=[county.grid_a1.pk]), {"kind": GL, "name": "某"}),
        (reverse("contacts:liaison_edit", args=[liaison.pk]), {"capacity": "5"}),
        (reverse("contacts:liaison_retire", args=[liaison.pk]), {}),
        (reverse("contacts:link_set", args=[county.household_a1.pk]), {"liaison": liaison.pk}),
        (reverse("contacts:link_release", args=[link.pk]), {}),
    ]


def test_outsiders_get_404_and_nothing_is_written(client, county, owner, outsider):
    a, _b = _leaders(county, owner)
    link = link_set(by=owner, household=county.household_a2, liaison=a)
    before = _state()
    client.force_login(outsider)
    for url, data in _every_change(county, a, link):
        assert client.post(url, data).status_code == 404, url
    for name in ("contacts:liaisons", "contacts:liaison_add"):
        assert client.get(reverse(name, args=[county.village_a.pk])).status_code == 404
    assert client.get(reverse("contacts:liaison_retire", args=[a.pk])).status_code == 404
    assert _state() == before


@pytest.mark.parametrize("who", ["rep", "member"])
def test_roles_that_may_not_manage_get_403_and_nothing_is_written(
    client, county, owner, rep, member, who
):
    a, _b = _leaders(county, owner)
    link = link_set(by=owner, household=county.household_a1, liaison=a)
    user = {"rep": rep, "member": member}[who]
    before = _state()
    client.force_login(user)
    village_add = reverse("contacts:liaison_add", args=[county.village_a.pk])
    for url, data in _every_change(county, a, link):
        if who == "member" and url == village_add:
            assert client.post(url, data).status_code == 404  # the grid worker's scope is 一组
            continue
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "Only cadres of this place" in response.content.decode()
    assert _state() == before
    # they may still read the list
    assert client.get(reverse("contacts:liaisons", args=[county.grid_a1.pk])).status_code == 200


def test_the_place_pages_link_to_liaisons_runs_and_rules(client, county, owner, county_user):
    liaisons = reverse("contacts:liaisons", args=[county.village_a.pk])
    runs = reverse("contacts:runs", args=[county.village_a.pk])
    client.force_login(owner)
    html = client.get(reverse("org:node", args=[county.village_a.pk])).content.decode()
    assert liaisons in html and runs in html

    rules = reverse("contacts:rules", args=[county.county.pk])
    client.force_login(county_user)
    html = client.get(reverse("org:node", args=[county.county.pk])).content.decode()
    assert rules in html and reverse("contacts:runs", args=[county.county.pk]) in html
    assert reverse("contacts:liaisons", args=[county.county.pk]) not in html


def test_the_list_reads_in_the_same_number_of_queries_however_many_liaisons(
    client, county, owner, django_assert_num_queries, pinned_queries
):
    _leaders(county, owner)
    client.force_login(owner)
    url = reverse("contacts:liaisons", args=[county.village_a.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(5):
        liaison_add(by=owner, node=county.grid_a2, kind=PM, name=f"党员{i}", phone="13800000009")
    with django_assert_num_queries(len(few)):
        client.get(url)
    pinned_queries.pin("contacts.liaisons", few)
