"""A child's name does not leak through the household's free text.

"邱鑫豪在读小学" beside "邱* 未满14周岁" named the child the record withholds. For readers
without the minors permission at the household's place, the page, the API answer and the
masked ledger export mask the household's children's names (full names and given names of two
or more characters) in every free-text field; a cadre with the permission reads them.
"""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import add_child, make_user
from minqing.households.models import Household, Resident
from minqing.lib.masking import NameMask

CHILD = "邱鑫豪"
NAMES = (CHILD, "鑫豪")


@pytest.fixture
def family(county, system_user):
    builder = make_user("minor_builder", Role.COMMAND_CENTRE, county.county)
    household = county.household_a1
    add_child(builder, household, CHILD, age=8)
    Household.objects.filter(pk=household.pk).update(
        family_situation="孙子邱鑫豪随祖父生活，父母外出务工",
        children_education="邱鑫豪在读小学三年级",
        social_relations="鑫豪的外婆住在李集村",
        income_source="务农；鑫豪父母寄钱",
    )
    Resident.objects.filter(pk=county.resident_a1.pk).update(
        notes="每天接送鑫豪上学", occupation="农民"
    )
    return household


@pytest.fixture
def party(county):
    return make_user("party", Role.PARTY_MEMBER, county.village_a)


def _page(client, household) -> str:
    response = client.get(reverse("households:detail", kwargs={"pk": household.pk}))
    assert response.status_code == 200
    return response.content.decode()


def _api(client, household) -> str:
    response = client.get(reverse("api:household", kwargs={"pk": household.pk}))
    assert response.status_code == 200
    return json.dumps(response.json(), ensure_ascii=False)


def _export(client, county) -> str:
    from openpyxl import load_workbook

    response = client.get(
        reverse("ledger:export", kwargs={"node_pk": county.village_a.pk}) + "?format=xlsx"
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return "\n".join(
        "  ".join("" if v is None else str(v) for v in row)
        for row in book["台账"].iter_rows(values_only=True)
    )


def test_a_party_member_reads_no_childs_name_on_the_page_api_or_export(
    client, county, family, party
):
    client.force_login(party)
    for where, text in (
        ("page", _page(client, family)),
        ("api", _api(client, family)),
        ("export", _export(client, county)),
    ):
        for name in NAMES:
            assert name not in text, (where, name)
    page = _page(client, family)
    assert "邱**在读小学三年级" in page
    assert "每天接送**上学" in page
    assert "Child under 14: record restricted." in page


def test_a_grid_worker_without_the_minors_permission_reads_no_childs_name(
    client, county, family, member
):
    client.force_login(member)
    for text in (_page(client, family), _api(client, family)):
        for name in NAMES:
            assert name not in text


def test_a_cadre_with_the_minors_permission_reads_the_text_as_recorded(
    client, county, family, owner
):
    client.force_login(owner)
    page = _page(client, family)
    assert "邱鑫豪在读小学三年级" in page
    assert "每天接送鑫豪上学" in page
    assert "孙子邱鑫豪随祖父生活" in _api(client, family)
    assert "每天接送鑫豪上学" in _export(client, county)


def test_the_history_of_a_free_text_field_masks_the_name_too(client, county, family, party, owner):
    from minqing.households.services import household_update

    household = Household.objects.get(pk=family.pk)
    household_update(
        by=owner,
        household=household,
        data={"children_education": "邱鑫豪在读小学四年级"},
        base_version=household.version,
    )
    client.force_login(party)
    page = _page(client, family)
    assert CHILD not in page and "鑫豪" not in page
    assert "邱**在读小学四年级" in page


def test_name_mask_full_names_given_names_and_compound_surnames():
    mask = NameMask(["邱鑫豪", "欧阳娜娜", "李明"])
    assert mask("邱鑫豪在读小学，鑫豪成绩好") == "邱**在读小学，**成绩好"
    assert mask("欧阳娜娜和娜娜") == "欧***和**"
    # A one-character given name alone is an ordinary word: only the full name is masked.
    assert mask("李明明天来") == "李*明天来"
    assert mask("") == ""
    assert not NameMask([])


def test_an_editor_without_the_minors_permission_sees_the_text_masked_and_cannot_overwrite_it(
    client, county, family, member
):
    from .test_household_edit import _form

    client.force_login(member)  # a grid worker: edits archives, may not see minors
    url = reverse("households:edit", kwargs={"pk": family.pk})
    form = client.get(url).content.decode()
    for name in NAMES:
        assert name not in form
    assert "邱**在读小学三年级" in form
    household = Household.objects.get(pk=family.pk)
    saved = client.post(
        url,
        _form(
            household,
            address="一组9号",
            children_education="邱**在读小学三年级",  # the masked copy, posted back
            family_situation="改掉孙子的名字",
        ),
    )
    assert saved.status_code == 302
    household.refresh_from_db()
    assert household.address == "一组9号"
    assert household.children_education == "邱鑫豪在读小学三年级"
    assert household.family_situation == "孙子邱鑫豪随祖父生活，父母外出务工"
    member_form = client.get(
        reverse("households:resident_edit", kwargs={"pk": county.resident_a1.pk})
    ).content.decode()
    assert "鑫豪" not in member_form and "每天接送**上学" in member_form


def test_a_name_search_does_not_find_a_child_the_reader_may_not_see(
    client, county, family, party, owner
):
    client.force_login(party)
    page = client.post(reverse("households:search"), {"q": "邱鑫"}, follow=True)
    assert "邱*" not in page.content.decode()
    answer = client.get(reverse("api:search"), {"q": "邱鑫"}).json()
    assert answer["residents"] == []
    client.force_login(owner)
    assert [
        r["name"] for r in client.get(reverse("api:search"), {"q": "邱鑫"}).json()["residents"]
    ] == [CHILD]
