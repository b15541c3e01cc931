"""Every archive edit names the version it was based on (docs/SECURITY-BAR.md §18), with no
exception.

An edit without a version is refused with a clear message, writes nothing and keeps what was
typed; two editors of one member: the second gets 409 with what the first changed.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from minqing.audit.models import AuditEvent
from minqing.households.errors import HouseholdErrorCode
from minqing.households.models import ArchiveChange, Household, Resident, VillageArchive
from minqing.households.services import household_update, resident_update, village_archive_update
from minqing.households.tests.writes import writes
from minqing.lib.errors import StaleEdit

from .test_household_edit import _form


def _member_form(resident, **overrides):
    data = {
        "version": resident.version,
        "name": resident.name,
        "relation": resident.relation,
        "sex": resident.sex,
        "id_number": "",
        "birth_date": "",
        "phone": "",
        "politics": resident.politics,
        "education": resident.education,
        "occupation": resident.occupation,
        "health": resident.health,
        "health_notes": "",
        "notes": resident.notes,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _writes() -> tuple[int, int]:
    return ArchiveChange.objects.count(), AuditEvent.objects.count()


def test_a_household_form_without_its_version_is_refused_and_keeps_the_input(client, county, owner):
    h = county.household_a1
    client.force_login(owner)
    before = _writes()
    data = _form(h, address="没带版本的地址")
    del data["version"]
    response = client.post(reverse("households:edit", kwargs={"pk": h.pk}), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "without the version of the record it was based on" in page
    assert 'value="没带版本的地址"' in page  # what was typed is kept
    assert f'name="version" value="{h.version}"' in page  # saving again is a decision
    h.refresh_from_db()
    assert (h.address, h.version) == ("一组A001号", 1)
    assert _writes() == before


def test_the_refusal_reads_in_chinese(client, county, owner, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    h = county.household_a1
    client.force_login(owner)
    data = _form(h, address="没带版本的地址")
    del data["version"]
    before = writes()
    with translation.override("zh-hans"):
        response = client.post(
            reverse("households:edit", kwargs={"pk": h.pk}), data, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
    assert response.status_code == 400
    assert "未保存任何内容" in response.content.decode()
    assert writes() == before


def test_a_member_form_without_its_version_is_refused(client, county, owner):
    resident = county.resident_a1
    client.force_login(owner)
    before = _writes()
    data = _member_form(resident, occupation="木匠", version=None)
    response = client.post(reverse("households:resident_edit", kwargs={"pk": resident.pk}), data)
    assert response.status_code == 400
    assert 'value="木匠"' in response.content.decode()
    resident.refresh_from_db()
    assert (resident.occupation, resident.version) == ("", 1)
    assert _writes() == before


def test_two_editors_of_one_member_the_second_gets_409_with_what_changed(
    client, county, owner, county_user
):
    resident = Resident.objects.get(pk=county.resident_a1.pk)
    client.force_login(owner)
    url = reverse("households:resident_edit", kwargs={"pk": resident.pk})
    opened = client.get(url).content.decode()
    assert f'name="version" value="{resident.version}"' in opened
    # The first editor saves while the second still has the form open.
    resident_update(
        by=county_user,
        resident=resident,
        data={"occupation": "电工", "education": "高中"},
        base_version=1,
    )
    response = client.post(url, _member_form(resident, occupation="木匠", version=1))
    assert response.status_code == 409
    page = response.content.decode()
    conflict = page.split('class="card conflict"', 1)[1].split("</section>", 1)[0]
    assert "电工" in conflict and "木匠" in conflict and "county_user" in conflict
    # The education the second editor left as it was is taken from the first editor.
    assert 'name="education" value="高中"' in page
    assert 'name="version" value="2"' in page
    resident.refresh_from_db()
    assert (resident.occupation, resident.version) == ("电工", 2)
    # Saving the rebased form now applies the second editor's choice.
    again = client.post(url, _member_form(resident, occupation="木匠", education="高中"))
    assert again.status_code == 302
    resident.refresh_from_db()
    assert (resident.occupation, resident.education, resident.version) == ("木匠", "高中", 3)


def test_services_refuse_an_edit_without_a_version_and_write_nothing(county, owner):
    before = _writes()
    with pytest.raises(ValidationError) as refused:
        household_update(
            by=owner, household=county.household_a1, data={"address": "x"}, base_version=None
        )
    assert refused.value.code == HouseholdErrorCode.VERSION_MISSING == "household.version_missing"
    with pytest.raises(ValidationError):
        resident_update(
            by=owner, resident=county.resident_a1, data={"occupation": "x"}, base_version=None
        )
    with pytest.raises(ValidationError):
        village_archive_update(
            by=owner, village=county.village_a, data={"committee": "x"}, base_version=None
        )
    assert _writes() == before
    assert Household.objects.get(pk=county.household_a1.pk).address == "一组A001号"
    assert not VillageArchive.objects.filter(village=county.village_a).exists()


def test_a_stale_member_edit_in_the_service_is_refused(county, owner):
    resident = county.resident_a1
    resident_update(by=owner, resident=resident, data={"occupation": "电工"}, base_version=1)
    with pytest.raises(StaleEdit):
        resident_update(by=owner, resident=resident, data={"occupation": "木匠"}, base_version=1)
    assert Resident.objects.get(pk=resident.pk).occupation == "电工"


def test_a_village_archive_form_without_its_version_is_refused(client, county, owner):
    url = reverse("households:village_archive_edit", kwargs={"node_pk": county.village_a.pk})
    client.force_login(owner)
    opened = client.get(url).content.decode()
    assert 'name="version" value="0"' in opened  # no archive yet
    response = client.post(url, {"committee": "书记 王某"})
    assert response.status_code == 400
    assert 'name="version" value="0"' in response.content.decode()
    assert not VillageArchive.objects.filter(village=county.village_a).exists()
    saved = client.post(url, {"committee": "书记 王某", "version": "0"})
    assert saved.status_code == 302
    archive = VillageArchive.objects.get(village=county.village_a)
    assert (archive.committee, archive.version) == ("书记 王某", 1)
    stale = client.post(url, {"committee": "书记 李某", "version": "0"})
    assert stale.status_code == 409
    assert VillageArchive.objects.get(village=county.village_a).committee == "书记 王某"


def test_a_stale_village_archive_edit_shows_what_changed_and_saves_on_the_new_version(
    client, county, owner, county_user
):
    village_archive_update(
        by=owner, village=county.village_a, data={"committee": "书记 王某"}, base_version=0
    )
    url = reverse("households:village_archive_edit", kwargs={"node_pk": county.village_a.pk})
    client.force_login(owner)
    village_archive_update(
        by=county_user,
        village=county.village_a,
        data={"committee": "书记 张某", "year_plan": "修路"},
        base_version=1,
    )
    stale = client.post(url, {"version": "1", "committee": "书记 李某"})
    assert stale.status_code == 409
    page = stale.content.decode()
    conflict = page.split('class="card conflict"', 1)[1].split("</section>", 1)[0]
    assert "书记 张某" in conflict and "书记 李某" in conflict and "county_user" in conflict
    assert 'name="version" value="2"' in page
    assert VillageArchive.objects.get(village=county.village_a).committee == "书记 张某"
    saved = client.post(url, {"version": "2", "committee": "书记 李某", "year_plan": "修路"})
    assert saved.status_code == 302
    archive = VillageArchive.objects.get(village=county.village_a)
    assert (archive.committee, archive.year_plan, archive.version) == ("书记 李某", "修路", 3)
