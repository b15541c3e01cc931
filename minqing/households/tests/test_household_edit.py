"""Editing archives: history, versions, clear refusals that change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from minqing.audit.models import AuditEvent
from minqing.households.models import ArchiveChange, Household, Resident, VillageArchive
from minqing.households.services import household_update, resident_add, resident_remove
from minqing.households.tests.writes import writes
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.idcard import make_id_number
from minqing.org.models import Node


def _form(household, **overrides):
    data = {
        "version": household.version,
        "number": household.number,
        "head_name": household.head_name,
        "address": household.address,
        "phone": "",
        "node": household.node_id,
        "income_source": household.income_source,
        "income_notes": "",
        "family_situation": "",
        "children_education": "",
        "social_relations": "",
    }
    data.update(overrides)
    return data


def test_edit_writes_history_with_who_what_when(client, county, owner):
    client.force_login(owner)
    h = county.household_a1
    response = client.post(
        reverse("households:edit", kwargs={"pk": h.pk}),
        _form(h, address="一组8号", phone="13900001111", income_notes="年收入五万"),
    )
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.address == "一组8号"
    assert h.phone.reveal() == "13900001111"
    assert h.version == 2
    change = ArchiveChange.objects.filter(household=h, action="update").get()
    assert change.actor == owner
    rows = {row[0]: row[1:] for row in change.changes}
    assert rows["address"] == ["一组A001号", "一组8号"]
    # sensitive values never enter the history, only the fact of the change
    assert rows["phone"] == ["******", "******"]
    assert rows["income_notes"] == ["******", "******"]
    assert "13900001111" not in str(change.changes)
    page = client.get(reverse("households:detail", kwargs={"pk": h.pk})).content.decode()
    assert "一组8号" in page and "owner" in page


def test_stale_edit_is_refused_with_409_and_keeps_the_input(client, county, owner, county_user):
    h = county.household_a1
    household_update(by=county_user, household=h, data={"address": "别人改的"}, base_version=1)
    client.force_login(owner)
    before = writes()
    response = client.post(
        reverse("households:edit", kwargs={"pk": h.pk}), _form(h, version=1, address="我改的")
    )
    assert response.status_code == 409
    assert writes() == before
    assert "我改的" in response.content.decode()
    h.refresh_from_db()
    assert h.address == "别人改的"
    assert h.version == 2


def test_bad_phone_names_the_field_and_changes_nothing(client, county, owner):
    client.force_login(owner)
    h = county.household_a1
    response = client.post(
        reverse("households:edit", kwargs={"pk": h.pk}), _form(h, phone="12345", address="新地址")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Phone must be an 11-digit mobile number" in body
    assert "新地址" in body  # the typed input is kept
    h.refresh_from_db()
    assert h.address != "新地址"
    assert h.version == 1
    assert not ArchiveChange.objects.filter(household=h, action="update").exists()


def test_bad_id_number_names_the_field(county, owner):
    from minqing.households.services.validation import clean_resident

    with pytest.raises(ValidationError) as err:
        clean_resident({"name": "张三", "id_number": "341602197003110012"})
    assert list(err.value.message_dict) == ["id_number"]
    assert "check digit" in err.value.message_dict["id_number"][0]


def test_duplicate_id_number_is_refused(county, owner):
    taken = county.resident_a1.id_number.reveal()
    with pytest.raises(ValidationError) as err:
        resident_add(
            by=owner, household=county.household_a2, data={"name": "冒名", "id_number": taken}
        )
    assert "id_number" in err.value.message_dict
    assert Resident.objects.filter(name="冒名").count() == 0


def test_counts_roll_up_on_add_and_remove(county, owner):
    born = dt.date(1990, 1, 2)
    r = resident_add(
        by=owner,
        household=county.household_a1,
        data={
            "name": "王二",
            "relation": "child",
            "sex": "M",
            "birth_date": born,
            "id_number": make_id_number("341602", born, 3, "M"),
        },
    )
    counts = lambda n: Node.objects.values_list("household_count", "resident_count").get(pk=n.pk)  # noqa: E731
    assert counts(county.county) == (3, 4)
    assert counts(county.village_a) == (2, 3)
    assert counts(county.grid_a1) == (1, 2)
    assert counts(county.village_b) == (1, 1)
    resident_remove(by=owner, resident=r, reason="迁出")
    assert counts(county.county) == (3, 3)
    assert Household.objects.get(pk=county.household_a1.pk).member_count == 1
    assert ArchiveChange.objects.filter(action="delete", resident_name="王二").count() == 1
    assert AuditEvent.objects.filter(action="resident.delete").count() == 1


def test_moving_a_household_between_groups_moves_its_counts(county, owner):
    household_update(
        by=owner, household=county.household_a1, data={}, base_version=1, node=county.grid_a2
    )
    counts = lambda n: Node.objects.values_list("household_count", "resident_count").get(pk=n.pk)  # noqa: E731
    assert counts(county.grid_a1) == (0, 0)
    assert counts(county.grid_a2) == (2, 2)
    assert counts(county.village_a) == (2, 2)


def test_moving_a_household_to_another_village_is_refused(county, county_user):
    with pytest.raises(ValidationError):
        household_update(
            by=county_user,
            household=county.household_a1,
            data={},
            base_version=1,
            node=county.grid_b1,
        )
    assert Household.objects.get(pk=county.household_a1.pk).node_id == county.grid_a1.pk


def test_representative_may_read_but_not_edit(client, county):
    from minqing.accounts.models import Role
    from minqing.conftest import make_user

    rep = make_user("rep", Role.REPRESENTATIVE, county.village_a)
    with pytest.raises(PermissionDenied):
        household_update(
            by=rep, household=county.household_a1, data={"address": "x"}, base_version=1
        )
    client.force_login(rep)
    assert (
        client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk})).status_code
        == 200
    )
    assert (
        client.post(
            reverse("households:edit", kwargs={"pk": county.household_a1.pk}),
            _form(county.household_a1, address="x"),
        ).status_code
        == 403
    )
    assert Household.objects.get(pk=county.household_a1.pk).address != "x"


def test_village_archive_edit_and_stale_version(client, county, owner, county_user):
    client.force_login(owner)
    url = reverse("households:village_archive_edit", kwargs={"node_pk": county.village_a.pk})
    first = {"version": 0, "committee": "书记：王建华", "year_plan": "修渠"}
    assert client.post(url, first).status_code == 302
    archive = VillageArchive.objects.get(village=county.village_a)
    assert archive.committee == "书记：王建华" and archive.version == 1
    before = writes()
    response = client.post(url, {"version": 0, "committee": "旧版本上的修改"})
    assert response.status_code == 409
    assert writes() == before
    archive.refresh_from_db()
    assert archive.committee == "书记：王建华"
    assert ArchiveChange.objects.filter(village=county.village_a).count() == 1


def test_stale_edit_in_the_service(county, owner):
    with pytest.raises(StaleEdit):
        household_update(
            by=owner, household=county.household_a1, data={"address": "x"}, base_version=7
        )


def test_edit_forms_never_prefill_confidential_values(client, county, owner):
    client.force_login(owner)
    body = client.get(
        reverse("households:edit", kwargs={"pk": county.household_a1.pk})
    ).content.decode()
    assert "年收入约三万" not in body and "13812345678" not in body
    body = client.get(
        reverse("households:resident_edit", kwargs={"pk": county.resident_a1.pk})
    ).content.decode()
    assert "高血压" not in body and county.resident_a1.id_number.reveal() not in body
    # and a blank confidential field keeps what is recorded
    h = county.household_a1
    client.post(reverse("households:edit", kwargs={"pk": h.pk}), _form(h, address="一组9号"))
    h.refresh_from_db()
    assert h.income_notes.reveal() == "年收入约三万" and h.phone.reveal() == "13812345678"


def test_a_member_edit_bumps_the_household_version_in_the_database(county, owner):
    """The increment must be made by the UPDATE itself (version = version + 1): the household
    row is not locked by a member edit, so a version read before the UPDATE can be stale and
    two concurrent member edits would leave one version — a household edit based on the first
    would then pass although the second changed the page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from minqing.households.services import resident_update

    household = Household.objects.get(pk=county.household_a1.pk)
    before = household.version
    # A stale copy of the household, as a concurrent request would hold.
    resident = Resident.objects.select_related("household").get(pk=county.resident_a1.pk)
    Household.objects.filter(pk=household.pk).update(version=before + 5)
    with CaptureQueriesContext(connection) as ctx:
        resident_update(by=owner, resident=resident, data={"occupation": "木匠"}, base_version=1)
    assert Household.objects.get(pk=household.pk).version == before + 6
    bumps = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    household_bump = [q for q in bumps if "households_household" in q.split("SET")[0]]
    assert len(household_bump) == 1
    assert '"version" = ("households_household"."version" + 1)' in household_bump[0]
    # A household edit based on the version before the member edit is stale.
    with pytest.raises(StaleEdit):
        household_update(
            by=owner, household=household, data={"address": "新地址"}, base_version=before + 5
        )
    assert Household.objects.get(pk=household.pk).address != "新地址"


def test_the_village_office_phone_is_kept_and_checked(client, county, owner):
    url = reverse("households:village_archive_edit", kwargs={"node_pk": county.village_a.pk})
    client.force_login(owner)
    bad = client.post(url, {"office_phone": "办公室", "version": 0})
    assert bad.status_code == 200  # the form again, with the message beside the field
    assert "Enter the office phone in digits" in bad.content.decode()
    assert 'value="办公室"' in bad.content.decode()  # the typed text stays
    assert not VillageArchive.objects.filter(
        village=county.village_a, office_phone="办公室"
    ).exists()
    client.post(url, {"office_phone": "0558-5123456", "version": 0})
    assert VillageArchive.objects.get(village=county.village_a).office_phone == "0558-5123456"
