"""The county's rules page: command centre only, all-or-nothing saves that keep the input on
an error, stale edits refused, and every change audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.models import AssignmentRule, LiaisonKind, MatchRule
from minqing.contacts.services import rules_for, rules_stamp
from minqing.households.models import HouseholdTag
from minqing.org.models import Level
from minqing.org.services import node_create

GL = LiaisonKind.GROUP_LEADER
PM = LiaisonKind.PARTY_MEMBER


def _url(county):
    return reverse("contacts:rules", args=[county.county.pk])


def _form(county) -> dict:
    """The page's form as it comes, filled from what is stored."""
    rules = rules_for(county.county)
    data: dict = {"stamp": rules_stamp(county.county)}
    for kind, rule in rules.items():
        data[f"{kind}-min_load"] = str(rule.min_load)
        data[f"{kind}-max_load"] = str(rule.max_load)
        if rule.required:
            data[f"{kind}-required"] = "on"
        if rule.active:
            data[f"{kind}-active"] = "on"
        data[f"{kind}-eligible_tags"] = [str(t.pk) for t in rule.eligible_tags.all()]
    for match in MatchRule.objects.filter(county=county.county):
        prefix = f"m{match.pk}"
        data[f"{prefix}-kind"] = match.kind
        data[f"{prefix}-category"] = match.category
        data[f"{prefix}-weight"] = str(match.weight)
        data[f"{prefix}-tags"] = [str(t.pk) for t in match.tags.all()]
    data["new-kind"] = PM
    data["new-category"] = ""
    return data


def _stored(county):
    rules = [
        (
            r.kind,
            r.min_load,
            r.max_load,
            r.required,
            r.active,
            sorted(t.code for t in r.eligible_tags.all()),
        )
        for r in AssignmentRule.objects.filter(county=county.county).order_by("kind")
    ]
    matches = [
        (m.kind, m.category, m.weight, sorted(t.code for t in m.tags.all()))
        for m in MatchRule.objects.filter(county=county.county).order_by("kind", "category")
    ]
    return rules, matches


@pytest.mark.parametrize("role", [Role.VILLAGE_CADRE, Role.TOWN_STAFF, Role.GRID_WORKER])
def test_only_the_command_centre_may_see_or_change_the_rules(client, county, role):
    node = {
        Role.VILLAGE_CADRE: county.village_a,
        Role.TOWN_STAFF: county.town_a,
        Role.GRID_WORKER: county.grid_a1,
    }[role]
    user = make_user("someone", role, node)
    data = _form(county) | {f"{GL}-max_load": "99"}
    before = _stored(county)
    client.force_login(user)

    # any node of theirs leads to their county's rules: in scope, not allowed
    url = reverse("contacts:rules", args=[node.pk])
    assert client.get(url).status_code == 403
    response = client.post(url, data)

    assert response.status_code == 403
    assert "Only the county command centre" in response.content.decode()
    assert _stored(county) == before
    assert not AuditEvent.objects.filter(action="contacts.rules_save").exists()


def test_the_command_centre_saves_and_the_change_is_audited(client, county, county_user):
    client.force_login(county_user)
    page = client.get(_url(county))
    assert page.status_code == 200
    dibao = HouseholdTag.objects.get(code="dibao")
    data = _form(county) | {
        f"{GL}-min_load": "80",
        f"{GL}-max_load": "110",
        f"{LiaisonKind.REPRESENTATIVE}-active": "on",
        f"{PM}-eligible_tags": [str(dibao.pk)],
        "new-kind": GL,
        "new-category": "young",
        "new-weight": "3",
        "new-tags": [str(HouseholdTag.objects.get(code="old_party_member").pk)],
    }
    mobile = MatchRule.objects.get(county=county.county, category="mobile")
    data[f"m{mobile.pk}-delete"] = "on"

    response = client.post(_url(county), data, follow=True)

    assert response.redirect_chain == [(_url(county), 302)]
    assert [str(m) for m in response.context["messages"]] == ["Rules saved."]
    gl = AssignmentRule.objects.get(county=county.county, kind=GL)
    assert (gl.min_load, gl.max_load) == (80, 110)
    assert AssignmentRule.objects.get(county=county.county, kind="representative").active
    pm = AssignmentRule.objects.get(county=county.county, kind=PM)
    assert [t.code for t in pm.eligible_tags.all()] == ["dibao"]
    assert not MatchRule.objects.filter(pk=mobile.pk).exists()
    new = MatchRule.objects.get(county=county.county, kind=GL)
    assert (new.category, new.weight, [t.code for t in new.tags.all()]) == (
        "young",
        3,
        ["old_party_member"],
    )
    event = AuditEvent.objects.get(action="contacts.rules_save")
    assert set(event.detail) == {
        f"rule:{GL}",
        "rule:representative",
        f"rule:{PM}",
        f"match:{mobile.pk}",
        f"match:{new.pk}",
    }
    assert event.detail[f"rule:{GL}"]["old"]["max_load"] == 120
    assert event.detail[f"rule:{GL}"]["new"]["max_load"] == 110

    # saving the same again changes nothing and writes no audit row
    again = client.post(_url(county), _form(county), follow=True)
    assert [str(m) for m in again.context["messages"]] == ["Nothing changed."]
    assert AuditEvent.objects.filter(action="contacts.rules_save").count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            f"{GL}-min_load",
            "150",
            "Residents&#x27; group leader: the fewest households (150) cannot be more than the "
            "most (120).",
        ),
        (f"{GL}-max_load", "0", "Ensure this value is greater than or equal to 1."),
        (f"{PM}-max_load", "abc", "Enter a whole number."),
    ],
)
def test_invalid_loads_keep_the_input_and_change_nothing(
    client, county, county_user, field, value, message
):
    client.force_login(county_user)
    data = _form(county) | {field: value, f"{PM}-min_load": "7", "new-category": "ordinary"}
    before = _stored(county)

    response = client.post(_url(county), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Nothing was saved: correct the fields marked below." in html
    assert f'name="{field}" value="{value}"' in html  # what was typed stays
    assert f'name="{PM}-min_load" value="7"' in html  # and so does every other field
    assert _stored(county) == before
    assert not AuditEvent.objects.filter(action="contacts.rules_save").exists()


def test_two_rules_for_one_category_are_refused(client, county, county_user):
    client.force_login(county_user)
    data = _form(county) | {"new-kind": PM, "new-category": "mobile", "new-weight": "4"}
    before = _stored(county)

    response = client.post(_url(county), data)

    assert response.status_code == 400
    assert "Each kind and category can have one matching rule only." in response.content.decode()
    assert 'name="new-weight" value="4"' in response.content.decode()
    assert _stored(county) == before
    assert not AuditEvent.objects.filter(action="contacts.rules_save").exists()


def test_an_incomplete_new_matching_rule_is_refused(client, county, county_user):
    client.force_login(county_user)
    data = _form(county) | {"new-kind": PM, "new-category": "young", "new-weight": ""}
    before = _stored(county)

    response = client.post(_url(county), data)

    assert response.status_code == 400
    assert "The weight is a whole number from 1 to 10." in response.content.decode()
    assert _stored(county) == before
    assert not AuditEvent.objects.filter(action="contacts.rules_save").exists()


def test_an_edit_based_on_an_old_page_is_stale_and_keeps_the_input(client, county, county_user):
    client.force_login(county_user)
    data = _form(county) | {f"{GL}-max_load": "90"}
    AssignmentRule.objects.filter(county=county.county, kind=GL).update(max_load=100)  # meanwhile
    before = _stored(county)

    response = client.post(_url(county), data)

    assert response.status_code == 409
    assert f'name="{GL}-max_load" value="90"' in response.content.decode()
    assert AssignmentRule.objects.get(county=county.county, kind=GL).max_load == 100
    assert _stored(county) == before
    assert not AuditEvent.objects.filter(action="contacts.rules_save").exists()


def test_another_countys_command_centre_gets_404(client, county):
    elsewhere = node_create(name="利辛县", level=Level.COUNTY, code="341623")
    client.force_login(make_user("elsewhere", Role.COMMAND_CENTRE, elsewhere))
    data = _form(county)
    before = _stored(county)
    assert client.get(_url(county)).status_code == 404
    assert client.post(_url(county), data).status_code == 404
    assert _stored(county) == before
    assert not AuditEvent.objects.filter(action="contacts.rules_save").exists()
    assert client.get(reverse("contacts:rules", args=[elsewhere.pk])).status_code == 200
