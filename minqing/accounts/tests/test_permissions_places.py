"""Two roles add up to exactly what each gives where it is held, never to more.

The attack: a village cadre of 王庄村 (A) who is also a party member of 李集村 (B). The party
member role lets them *see* B's households; before, "may reveal / edit / see minors" asked
whether they held a granting role anywhere, so the cadre role in A opened all three in B.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.accounts.permissions import Action, allowed, place_path
from minqing.accounts.scope import Scope, scope_for
from minqing.accounts.services import role_assign
from minqing.audit.models import AuditEvent
from minqing.conftest import add_child, make_user
from minqing.households.models import ArchiveChange, Household, Resident, VillageArchive
from minqing.tests.dbstate import nothing_written

CHILD_A = "张一鸣"
CHILD_B = "张二丫"


@pytest.fixture
def two_roles(county):
    """Village cadre of A, party member of B."""
    user = make_user("two_roles", Role.VILLAGE_CADRE, county.village_a)
    role_assign(user=user, role=Role.PARTY_MEMBER, node=county.village_b)
    return user


@pytest.fixture
def children(county, county_user):
    child_a = add_child(county_user, county.household_a1, CHILD_A, age=7, sex="M", seq=5)
    child_b = add_child(county_user, county.household_b1, CHILD_B, age=9, sex="F", seq=6)
    return child_a, child_b


def _reveals() -> int:
    return AuditEvent.objects.filter(action="personal_data.reveal").count()


def _snapshot():
    """Everything an archive write would change."""
    return (
        sorted(Household.objects.values_list("pk", "version", "address", "head_name")),
        sorted(Resident.objects.values_list("pk", "name", "updated_at")),
        ArchiveChange.objects.count(),
        sorted(VillageArchive.objects.values_list("village_id", "version")),
    )


def _household_form(household, **overrides):
    data = {
        "version": household.version,
        "number": household.number,
        "head_name": household.head_name,
        "address": household.address,
        "node": household.node_id,
        "income_source": household.income_source,
    }
    data.update(overrides)
    return data


RESIDENT_FORM = {"name": "某某", "relation": "other", "politics": "masses", "health": "healthy"}


def test_scope_has_no_role_anywhere_properties():
    """Nothing can ask "has this role somewhere" again (the properties are gone)."""
    for name in ("can_reveal", "can_edit_archives", "can_see_minors"):
        assert not hasattr(Scope, name), name


def test_the_question_is_asked_of_the_place(county, two_roles, children):
    child_a, child_b = children
    for action in (Action.REVEAL, Action.EDIT_ARCHIVE, Action.SEE_MINORS, Action.VIEW):
        assert allowed(two_roles, action, county.household_a1), action
        assert allowed(two_roles, action, child_a), action
    assert allowed(two_roles, Action.VIEW, county.household_b1)
    for action in (Action.REVEAL, Action.EDIT_ARCHIVE, Action.SEE_MINORS):
        assert not allowed(two_roles, action, county.household_b1), action
        assert not allowed(two_roles, action, child_b), action
        assert not allowed(two_roles, action, county.village_b), action
        assert not allowed(two_roles, action, county.grid_b1.path), action
    # a role held below does not grant above: the cadre of A is no cadre of its town
    assert not allowed(two_roles, Action.EDIT_ARCHIVE, county.town_a)
    assert place_path(child_b) == county.grid_b1.path
    assert not allowed(two_roles, "delete_everything", county.household_a1)
    assert not allowed(two_roles, Action.VIEW, None)


def test_reveal_in_b_is_refused_and_not_audited(client, county, two_roles, children):
    client.force_login(two_roles)
    _child_a, child_b = children
    before = _reveals()
    for kind, obj, field in (
        ("resident", county.resident_b1, "id_number"),
        ("resident", county.resident_b1, "phone"),
        ("household", county.household_b1, "phone"),
        ("resident", child_b, "id_number"),
    ):
        url = reverse("households:reveal", kwargs={"kind": kind, "pk": obj.pk, "field": field})
        with nothing_written():
            response = client.post(url)
        assert response.status_code == 403, (kind, field)
        assert getattr(obj, field).reveal() not in response.content.decode()
    for kind, obj in (("residents", county.resident_b1), ("households", county.household_b1)):
        with nothing_written():
            response = client.post(
                reverse("api:reveal", kwargs={"kind": kind, "pk": obj.pk}),
                data=json.dumps({"field": "phone"}),
                content_type="application/json",
            )
        assert response.status_code == 403, kind
        assert "13712345678" not in response.content.decode()
    assert _reveals() == before


def test_reveal_in_a_still_works_and_is_audited(client, county, two_roles, children):
    client.force_login(two_roles)
    child_a, _child_b = children
    before = _reveals()
    url = reverse(
        "households:reveal",
        kwargs={"kind": "resident", "pk": county.resident_a1.pk, "field": "id_number"},
    )
    response = client.post(url)
    assert response.status_code == 200
    assert county.resident_a1.id_number.reveal() in response.content.decode()
    response = client.post(
        reverse(
            "households:reveal", kwargs={"kind": "resident", "pk": child_a.pk, "field": "id_number"}
        )
    )
    assert response.status_code == 200
    api = client.post(
        reverse("api:reveal", kwargs={"kind": "households", "pk": county.household_a1.pk}),
        data=json.dumps({"field": "phone"}),
        content_type="application/json",
    )
    assert api.status_code == 200 and api.json()["value"] == "13812345678"
    assert _reveals() == before + 3


def test_archive_edits_in_b_are_refused_and_change_nothing(client, county, two_roles, children):
    client.force_login(two_roles)
    _child_a, child_b = children
    h, r = county.household_b1, county.resident_b1
    before = _snapshot()
    for url, data in (
        (reverse("households:edit", kwargs={"pk": h.pk}), _household_form(h, address="改了")),
        (reverse("households:resident_add", kwargs={"pk": h.pk}), RESIDENT_FORM),
        (reverse("households:resident_edit", kwargs={"pk": r.pk}), {**RESIDENT_FORM, "name": "改"}),
        (reverse("households:resident_edit", kwargs={"pk": child_b.pk}), RESIDENT_FORM),
        (reverse("households:resident_remove", kwargs={"pk": r.pk}), {"reason": "迁出"}),
        (reverse("households:resident_remove", kwargs={"pk": child_b.pk}), {"reason": "迁出"}),
        (
            reverse("households:create", kwargs={"node_pk": county.grid_b1.pk}),
            {"number": "B009", "head_name": "某某", "node": county.grid_b1.pk},
        ),
        (
            reverse("households:village_archive_edit", kwargs={"node_pk": county.village_b.pk}),
            {"committee": "改了"},
        ),
        (
            reverse("ledger:import", kwargs={"node_pk": county.village_b.pk}),
            {},
        ),
    ):
        with nothing_written():
            assert client.get(url).status_code == 403, url
            response = client.post(url, data)
        assert response.status_code == 403, url
        assert "改了" not in response.content.decode()
    assert _snapshot() == before


def test_archive_edit_in_a_still_works(client, county, two_roles):
    client.force_login(two_roles)
    h = county.household_a1
    for name in ("households:edit", "households:resident_add"):
        assert client.get(reverse(name, kwargs={"pk": h.pk})).status_code == 200, name
    response = client.post(
        reverse("households:edit", kwargs={"pk": h.pk}), _household_form(h, address="一组9号")
    )
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.address == "一组9号" and h.version == 2


def test_minors_in_b_are_masked_on_pages_and_in_the_api(client, county, two_roles, children):
    client.force_login(two_roles)
    child_a, child_b = children
    page_b = client.get(reverse("households:detail", kwargs={"pk": county.household_b1.pk}))
    assert page_b.status_code == 200
    assert CHILD_B not in page_b.content.decode()
    assert child_b.id_number.reveal()[-4:] not in page_b.content.decode()
    api_b = client.get(reverse("api:household", kwargs={"pk": county.household_b1.pk}))
    assert api_b.status_code == 200
    members = {m["id"]: m for m in api_b.json()["members"]}
    assert members[child_b.pk].get("restricted") is True
    assert "name" not in members[child_b.pk]
    assert CHILD_B not in api_b.content.decode()
    # A: the cadre sees their own village's children
    page_a = client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk}))
    assert CHILD_A in page_a.content.decode()
    api_a = client.get(reverse("api:household", kwargs={"pk": county.household_a1.pk}))
    assert {m["id"]: m for m in api_a.json()["members"]}[child_a.pk]["name"] == CHILD_A


def test_one_search_listing_both_villages_masks_each_child_by_its_own_place(
    client, county, two_roles, children
):
    client.force_login(two_roles)
    page = client.get(reverse("households:search") + "?q=张").content.decode()
    assert CHILD_A in page
    assert CHILD_B not in page and "张*" in page
    api = client.get(reverse("api:search") + "?q=张").json()
    names = sorted(r["name"] for r in api["residents"])
    assert names == sorted([CHILD_A, "张*"])


def test_minors_change_history_in_b_stays_restricted(client, county, two_roles, children):
    client.force_login(two_roles)
    page = client.get(reverse("households:detail", kwargs={"pk": county.household_b1.pk}))
    assert "A change to a restricted record of a child." in page.content.decode()


def test_unmasked_ledger_export_in_b_is_refused_and_masked_one_leaves_b_children_out(
    client, county, two_roles, children
):
    client.force_login(two_roles)
    url_b = reverse("ledger:export", kwargs={"node_pk": county.village_b.pk})
    before = AuditEvent.objects.filter(action="personal_data.export").count()
    for file_format in ("csv", "xlsx"):
        with nothing_written():
            response = client.post(url_b, {"format": file_format, "unmasked": "1"})
        assert response.status_code == 403, file_format
    assert AuditEvent.objects.filter(action="personal_data.export").count() == before
    masked = client.get(url_b + "?format=csv")
    assert masked.status_code == 200
    text = b"".join(masked.streaming_content).decode("utf-8-sig")
    assert "李德明" in text and CHILD_B not in text
    assert client.get(url_b).content.decode().count('name="unmasked"') == 0
    url_a = reverse("ledger:export", kwargs={"node_pk": county.village_a.pk})
    full = client.post(url_a, {"format": "csv", "unmasked": "1"})
    assert full.status_code == 200
    text_a = b"".join(full.streaming_content).decode("utf-8-sig")
    assert CHILD_A in text_a and county.resident_a1.id_number.reveal() in text_a
    assert AuditEvent.objects.filter(action="personal_data.export").count() == before + 1


def test_masked_export_of_a_subtree_decides_children_household_by_household(county, children):
    """Town staff of A who is also a representative over the county exports the county: the
    minors right holds in town A only, so A's children are in the file and B's are not."""
    from minqing.households.ledger.exporter import ledger_export

    user = make_user("town_a_staff", Role.TOWN_STAFF, county.town_a)
    role_assign(user=user, role=Role.REPRESENTATIVE, node=county.county)
    export = ledger_export(by=user, node=county.county, file_format="csv")
    text = b"".join(export.chunks).decode("utf-8-sig")
    assert CHILD_A in text and CHILD_B not in text
    assert "李德明" in text  # B's adults are in the representative's county-wide view


def test_contact_cards_and_unmasked_contact_ledger_in_b_are_refused(client, county, two_roles):
    client.force_login(two_roles)
    v = county.village_b
    for name in ("contacts:cards", "contacts:cards_pdf"):
        with nothing_written():
            assert client.get(reverse(name, kwargs={"node_pk": v.pk})).status_code == 403, name
    with nothing_written():
        response = client.post(
            reverse("contacts:ledger_xlsx", kwargs={"node_pk": v.pk}), {"unmasked": "1"}
        )
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="contacts.cards").exists()
    assert (
        client.get(reverse("contacts:cards", kwargs={"node_pk": county.village_a.pk})).status_code
        != 403
    )


def test_node_page_buttons_only_where_allowed(client, county, two_roles):
    client.force_login(two_roles)
    page_b = client.get(reverse("org:node", kwargs={"pk": county.village_b.pk})).content.decode()
    page_a = client.get(reverse("org:node", kwargs={"pk": county.village_a.pk})).content.decode()
    for name, kwargs in (
        ("households:village_archive_edit", "node_pk"),
        ("households:create", "node_pk"),
        ("ledger:import", "node_pk"),
        ("contacts:cards", "node_pk"),
    ):
        assert reverse(name, kwargs={kwargs: county.village_a.pk}) in page_a, name
        assert reverse(name, kwargs={kwargs: county.village_b.pk}) not in page_b, name
    detail_b = client.get(reverse("households:detail", kwargs={"pk": county.household_b1.pk}))
    body_b = detail_b.content.decode()
    assert reverse("households:edit", kwargs={"pk": county.household_b1.pk}) not in body_b
    assert "/reveal/" not in body_b
    detail_a = client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk}))
    body_a = detail_a.content.decode()
    assert reverse("households:edit", kwargs={"pk": county.household_a1.pk}) in body_a
    assert "/reveal/" in body_a


def test_scope_of_the_two_role_user_is_the_union_for_reading(county, two_roles):
    scope = scope_for(two_roles)
    assert scope.covers_path(county.household_b1.node.path)
    assert scope.covers_path(county.household_a1.node.path)
    assert not scope.covers_path(county.town_b.path)


def test_permissions_offer_no_role_anywhere_question():
    """The module asks only about a place: no helper answers "somewhere"."""
    from minqing.accounts import permissions

    public = {n for n in dir(permissions) if not n.startswith("_")}
    assert {"allowed", "require", "refusal", "minors_visible", "place_path"} <= public
    assert not [n for n in public if "somewhere" in n or "anywhere" in n]
