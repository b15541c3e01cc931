"""The quota rules page (command centre edits, others read, input kept on error) and the
compliance pages, with their refusals: 404 outside one's jurisdiction, 403 without the role,
nothing written either way."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.visits.models import QuotaRule
from minqing.visits.services import cadence

#: The routes of this work, for the project-wide route coverage test.
ROUTE_NAMES = {
    "visits:quotas",
    "visits:compliance",
    "visits:liaison_due",
    "visits:event_new",
    "visits:campaigns",
    "visits:night_list",
    "visits:night_new",
    "visits:night_detail",
}

READ_ONLY = {"visits:compliance", "visits:liaison_due", "visits:night_list", "visits:night_detail"}


def quota_url(county):
    return reverse("visits:quotas", args=[county.county.pk])


def quota_form(rules, **changes):
    """The page's form as the browser sends it, with ``changes`` ({"r<id>-count": "3"})."""
    data = {}
    for r in rules:
        p = f"r{r.pk}-"
        data |= {p + "kind": r.kind, p + "period": r.period, p + "count": str(r.count)}
        for flag in ("per_household", "home_only", "active"):
            if getattr(r, flag):
                data[p + flag] = "on"
    data |= {"new-kind": "", "new-period": "month", "new-count": ""}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def rules_state():
    return sorted(
        QuotaRule.objects.values_list(
            "kind", "period", "count", "per_household", "home_only", "active"
        )
    )


def test_the_command_centre_edits_and_adds_a_quota(client, county, county_user):
    rules = list(cadence.quotas_for(county.county).get(LiaisonKind.CADRE))
    all_rules = list(QuotaRule.objects.all())
    monthly = next(r for r in rules if r.period == "month")
    client.force_login(county_user)
    page = client.get(quota_url(county))
    assert page.status_code == 200
    stamp = page.context["stamp"]

    response = client.post(
        quota_url(county),
        quota_form(
            all_rules,
            stamp=stamp,
            **{
                f"r{monthly.pk}-count": "2",
                "new-kind": "cadre",
                "new-period": "month",
                "new-count": "5",
                "new-active": "on",
            },
        ),
    )

    assert response.status_code == 302
    monthly.refresh_from_db()
    assert monthly.count == 2
    added = QuotaRule.objects.get(kind="cadre", per_household=False)
    assert (added.period, added.count, added.home_only, added.active) == ("month", 5, False, True)
    audit = AuditEvent.objects.get(action="visits.quotas_save")
    assert [c[0] for c in audit.detail["changes"]] == ["update", "create"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("0", "At least 1."),
        ("9", "At most 7 contacts with one household a week."),
    ],
)
def test_bad_values_are_refused_with_the_input_kept(client, county, county_user, change, message):
    cadence.quotas_for(county.county)
    weekly = QuotaRule.objects.get(kind="representative", period="week")
    before = rules_state()
    client.force_login(county_user)
    response = client.post(
        quota_url(county),
        quota_form(QuotaRule.objects.all(), **{f"r{weekly.pk}-count": change}),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert f'name="r{weekly.pk}-count" value="{change}"' in html
    assert rules_state() == before


def test_two_rules_saying_the_same_are_refused(client, county, county_user):
    cadence.quotas_for(county.county)
    before = rules_state()
    client.force_login(county_user)
    response = client.post(
        quota_url(county),
        quota_form(
            QuotaRule.objects.all(),
            **{
                "new-kind": "representative",
                "new-period": "week",
                "new-count": "2",
                "new-per_household": "on",
            },
        ),
    )
    assert response.status_code == 400
    assert (
        "Another rule already says this for Villagers&#x27; representative per week"
        in response.content.decode()
    )
    assert rules_state() == before


def test_a_stale_edit_is_refused(client, county, county_user):
    cadence.quotas_for(county.county)
    client.force_login(county_user)
    stamp = client.get(quota_url(county)).context["stamp"]
    QuotaRule.objects.filter(kind="representative").update(count=2)  # someone else's edit
    before = rules_state()
    response = client.post(quota_url(county), quota_form(QuotaRule.objects.all(), stamp=stamp))
    assert response.status_code == 409
    assert rules_state() == before


def test_others_read_the_quotas_but_may_not_change_them(client, county, owner, outsider):
    cadence.quotas_for(county.county)
    before = rules_state()
    # a village cadre reads the county's quotas from their village (the county node is not
    # theirs to open)
    from_village = reverse("visits:quotas", args=[county.village_a.pk])
    client.force_login(owner)
    assert client.get(quota_url(county)).status_code == 404
    page = client.get(from_village)
    assert page.status_code == 200
    assert "Only the county command centre changes the quotas." in page.content.decode()
    form = quota_form(QuotaRule.objects.all(), **{"new-kind": "cadre", "new-count": "9"})
    assert client.post(from_village, form).status_code == 403
    client.force_login(outsider)
    assert client.get(from_village).status_code == 404
    assert client.post(from_village, form).status_code == 404
    assert rules_state() == before
    assert not AuditEvent.objects.filter(action="visits.quotas_save").exists()


# --------------------------------------------------------------------------- compliance pages


@pytest.fixture
def leader(county, owner):
    user = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    liaison = liaison_add(by=owner, node=county.grid_a1, kind=LiaisonKind.GROUP_LEADER, user=user)
    link_set(by=owner, household=county.household_a1, liaison=liaison)
    return liaison


def test_the_compliance_page_by_person_and_grid(client, county, owner, leader):
    client.force_login(owner)
    response = client.get(
        reverse("visits:compliance", args=[county.village_a.pk]) + "?period=last-week"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "leader" in html and "一组" in html
    assert reverse("visits:liaison_due", args=[leader.pk]) in html
    assert response.context["report"].window.key == "last-week"
    person = client.get(reverse("visits:liaison_due", args=[leader.pk]))
    assert person.status_code == 200 and county.household_a1.head_name in person.content.decode()
    town = client.get(reverse("visits:compliance", args=[county.county.pk]))
    assert town.status_code == 404  # the village cadre does not see the county node


def test_compliance_pages_refuse_outside_scope_and_field_roles(
    client, county, outsider, leader, member
):
    village = reverse("visits:compliance", args=[county.village_a.pk])
    person = reverse("visits:liaison_due", args=[leader.pk])
    client.force_login(outsider)
    assert client.get(village).status_code == 404
    assert client.get(person).status_code == 404
    client.force_login(member)  # the grid worker sees their grid, not the village
    assert client.get(village).status_code == 404
    assert client.get(reverse("visits:compliance", args=[county.grid_a1.pk])).status_code == 200
    assert client.get(person).status_code == 200
    client.force_login(leader.user)  # a group leader has no supervising role
    assert client.get(reverse("visits:compliance", args=[county.grid_a1.pk])).status_code == 403
    assert client.get(person).status_code == 403


def test_the_node_page_links_to_the_visit_pages(client, county, owner):
    client.force_login(owner)
    html = client.get(reverse("org:node", args=[county.village_a.pk])).content.decode()
    assert reverse("visits:compliance", args=[county.village_a.pk]) in html
    assert reverse("visits:night_list", args=[county.village_a.pk]) in html
    assert reverse("visits:campaigns", args=[county.village_a.pk]) in html


def test_anonymous_users_are_sent_to_log_in(client, county):
    for url in (
        quota_url(county),
        reverse("visits:compliance", args=[county.village_a.pk]),
        reverse("visits:night_list", args=[county.village_a.pk]),
        reverse("visits:event_new", args=[county.household_a1.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.url, url


def test_outsider_gets_404_exactly_like_missing_on_every_route(client, county, owner, outsider):
    from minqing.households.models import HouseholdTag
    from minqing.visits.models import LifeEvent, NightVisitPlan, VisitCampaign, VisitTask
    from minqing.visits.services.night import NightInput, night_plan_create

    leader = make_user("town_leader", Role.TOWN_STAFF, county.town_a)
    duty = [make_user(f"duty{i}", Role.TOWN_STAFF, county.town_a).pk for i in (1, 2)]
    county.household_a1.tags.add(HouseholdTag.objects.get(code="dibao"))
    plan = night_plan_create(
        by=leader,
        village=county.village_a,
        data=NightInput(
            title="夜访",
            on=dt.date.today(),  # noqa: DTZ011 - a calendar date
            starts=dt.time(19),
            ends=dt.time(21),
            leader_id=leader.pk,
            duty_ids=duty,
            team_ids=[owner.pk],
            tag_codes=["dibao"],
        ),
    )
    gl = make_user("gl", Role.GROUP_LEADER, county.grid_a1)
    liaison = liaison_add(by=owner, node=county.grid_a1, kind=LiaisonKind.GROUP_LEADER, user=gl)
    v, h = county.village_a.pk, county.household_a1.pk
    routes = [
        ("visits:quotas", {"node_pk": v}),
        ("visits:compliance", {"node_pk": v}),
        ("visits:liaison_due", {"pk": liaison.pk}),
        ("visits:event_new", {"household_pk": h}),
        ("visits:campaigns", {"node_pk": v}),
        ("visits:night_list", {"node_pk": v}),
        ("visits:night_new", {"node_pk": v}),
        ("visits:night_detail", {"pk": plan.pk}),
    ]
    assert {name for name, _k in routes} == ROUTE_NAMES

    def state():
        return (
            QuotaRule.objects.count(),
            LifeEvent.objects.count(),
            VisitTask.objects.count(),
            VisitCampaign.objects.count(),
            NightVisitPlan.objects.count(),
            AuditEvent.objects.count(),
        )

    before = state()
    client.force_login(outsider)
    form = {"title": "x", "kind": "wedding", "tags": ["dibao"], "new-kind": "cadre"}
    for name, kwargs in routes:
        missing = {k: 999_999 for k in kwargs}
        for method in ("get", "post"):
            if method == "post" and name in READ_ONLY:
                continue
            call = getattr(client, method)
            there = call(reverse(name, kwargs=kwargs), form)
            absent = call(reverse(name, kwargs=missing), form)
            assert (there.status_code, absent.status_code) == (404, 404), (name, method)
            assert there.content == absent.content, (name, method)
    assert state() == before
    for name, kwargs in routes:  # read-only pages take no posts, in scope or not
        if name in READ_ONLY:
            assert client.post(reverse(name, kwargs=kwargs)).status_code == 405
    client.force_login(owner)
    for name, kwargs in routes:
        assert client.get(reverse(name, kwargs=kwargs)).status_code == 200, name
