"""Ledger export: masked by default, unmasked only with the reveal permission, audited,
carrying who/when, and re-importable without changes."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import add_child, make_user
from minqing.households.ledger.columns import HEADERS
from minqing.households.ledger.importer import ledger_check, ledger_import
from minqing.households.models import ArchiveChange, Household, Resident
from minqing.households.tests.ledger_helpers import make_ledger, xlsx_bytes
from minqing.lib.fields import plain
from minqing.lib.masking import mask_id_number, mask_phone


@pytest.fixture(autouse=True)
def _english_and_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    with translation.override("en"):
        yield


@pytest.fixture
def ledger(county, owner):
    """Sixty residents imported into 王庄村 on top of the fixture's households."""
    rows = make_ledger(60)
    ledger_import(
        by=owner,
        ledger_import=ledger_check(
            by=owner, node=county.village_a, filename="a.xlsx", data=xlsx_bytes(rows.rows)
        ),
    )
    return rows


def url(node) -> str:
    return reverse("ledger:export", kwargs={"node_pk": node.pk})


def body(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def unzipped(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def village_a_people():
    return Resident.objects.filter(household__village__name="王庄村")


def test_masked_export_holds_no_full_id_or_phone(client, county, owner, ledger):
    client.force_login(owner)
    people = list(village_a_people())
    households = list(Household.objects.filter(village=county.village_a))
    assert len(people) == 62
    for file_format in ("xlsx", "csv"):
        data = body(client.get(url(county.village_a) + f"?format={file_format}"))
        text = unzipped(data) if file_format == "xlsx" else data
        for person in people:
            id_number, phone = person.id_number.reveal(), plain(person.phone)
            assert id_number[4:14].encode() not in text, (file_format, person.name)
            assert mask_id_number(id_number).encode() in text
            assert phone.encode() not in text
            assert mask_phone(phone).encode() in text
        for household in households:
            assert plain(household.phone).encode() not in text
    events = list(
        AuditEvent.objects.filter(action__in=["ledger.export", "personal_data.export"]).values_list(
            "action", "username", "detail"
        )
    )
    assert events == [
        (
            "ledger.export",
            "owner",
            {"format": "xlsx", "masked": True, "households": 22, "minors": True},
        ),
        (
            "ledger.export",
            "owner",
            {"format": "csv", "masked": True, "households": 22, "minors": True},
        ),
    ]


def test_get_never_exports_unmasked(client, county, owner, ledger):
    client.force_login(owner)
    data = body(client.get(url(county.village_a) + "?format=csv&unmasked=1"))
    assert county.resident_a1.id_number.reveal().encode() not in data
    assert not AuditEvent.objects.filter(action="personal_data.export").exists()


def test_unmasked_export_by_owner_is_audited_and_says_who_and_when(client, county, owner, ledger):
    client.force_login(owner)
    before = timezone.localtime().replace(microsecond=0)
    data = body(client.post(url(county.village_a), {"format": "xlsx", "unmasked": "1"}))
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["台账", "导出说明"]
    sheet = workbook["台账"]
    assert [c.value for c in sheet[1]] == HEADERS
    assert sheet.max_row == 1 + 62
    ids = {row[11] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert county.resident_a1.id_number.reveal() in ids
    assert county.resident_b1.id_number.reveal() not in ids  # another village
    note = {row[0]: row[1] for row in workbook["导出说明"].iter_rows(values_only=True)}
    assert note["导出人"] == "owner"
    when = dt.datetime.strptime(note["导出时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=before.tzinfo)
    assert before <= when <= timezone.localtime()
    assert note["范围"] == "王庄村"
    assert note["行数"] == "62"
    assert workbook.properties.creator == "owner"
    event = AuditEvent.objects.get(action="personal_data.export")
    assert (event.username, event.object_type, event.object_id) == (
        "owner",
        "org.node",
        str(county.village_a.pk),
    )
    assert event.detail == {"format": "xlsx", "masked": False, "households": 22, "minors": True}

    csv_text = body(client.post(url(county.village_a), {"format": "csv", "unmasked": "1"})).decode(
        "utf-8-sig"
    )
    first, header = csv_text.splitlines()[:2]
    assert first.startswith("# 导出人: owner  导出时间: ")
    assert "完整个人信息（未脱敏）" in first
    assert header == ",".join(HEADERS)
    assert "\t" + county.resident_a1.id_number.reveal() in csv_text
    assert AuditEvent.objects.filter(action="personal_data.export").count() == 2


def test_unmasked_export_refused_without_permission_and_nothing_audited(
    client, county, outsider, ledger
):
    viewer = make_user("party_member", Role.PARTY_MEMBER, county.village_a)
    client.force_login(viewer)
    assert (
        client.post(url(county.village_a), {"format": "xlsx", "unmasked": "1"}).status_code == 403
    )
    assert client.post(url(county.village_a), {"format": "csv", "unmasked": "1"}).status_code == 403
    client.force_login(outsider)  # in scope nowhere near 王庄村: not found, like a missing node
    assert (
        client.post(url(county.village_a), {"format": "xlsx", "unmasked": "1"}).status_code == 404
    )
    assert client.get(url(county.village_a) + "?format=csv").status_code == 404
    assert not AuditEvent.objects.filter(
        action__in=["personal_data.export", "ledger.export"]
    ).exists()


@pytest.mark.parametrize(
    ("file_format", "unmasked"), [("xlsx", True), ("csv", True), ("xlsx", False), ("csv", False)]
)
def test_export_reimports_without_changes(client, county, owner, ledger, file_format, unmasked):
    client.force_login(owner)
    if unmasked:
        data = body(client.post(url(county.village_a), {"format": file_format, "unmasked": "1"}))
    else:
        data = body(client.get(url(county.village_a) + f"?format={file_format}"))
    changes = ArchiveChange.objects.count()
    versions = dict(Household.objects.values_list("pk", "version"))
    checked = ledger_check(by=owner, node=county.village_a, filename=f"e.{file_format}", data=data)
    assert checked.report["errors"] == []
    assert checked.report["plan"] == {
        "households": {"create": 0, "update": 0, "unchanged": 22},
        "residents": {"create": 0, "update": 0, "unchanged": 62},
    }
    ledger_import(by=owner, ledger_import=checked)
    assert ArchiveChange.objects.count() == changes
    assert dict(Household.objects.values_list("pk", "version")) == versions


def test_town_export_reimports_into_the_town(county, county_user, owner, ledger):
    from minqing.households.ledger.exporter import ledger_export

    data = b"".join(
        ledger_export(by=county_user, node=county.town_a, file_format="xlsx", unmasked=True).chunks
    )
    checked = ledger_check(by=county_user, node=county.town_a, filename="t.xlsx", data=data)
    assert checked.report["errors"] == []
    assert checked.report["plan"]["residents"] == {"create": 0, "update": 0, "unchanged": 62}


def test_children_are_left_out_for_roles_without_the_minors_permission(
    client, county, owner, member
):
    add_child(owner, county.household_a1, "王小宝")
    client.force_login(member)
    grid = url(county.grid_a1) + "?format=csv"
    text = body(client.get(grid)).decode("utf-8-sig")
    assert "王建国" in text
    assert "王小宝" not in text
    client.force_login(owner)
    assert "王小宝" in body(client.get(grid)).decode("utf-8-sig")


def test_export_page_and_template(client, county, owner, member):
    client.force_login(owner)
    page = client.get(url(county.village_a))
    assert page.status_code == 200
    assert b'name="unmasked"' in page.content
    viewer = make_user("representative", Role.REPRESENTATIVE, county.village_a)
    client.force_login(viewer)
    assert b'name="unmasked"' not in client.get(url(county.village_a)).content

    client.force_login(owner)
    response = client.get(reverse("ledger:template") + f"?node={county.village_a.pk}")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["台账", "填写说明"]
    assert [c.value for c in workbook["台账"][1]] == HEADERS
    guide = [row for row in workbook["填写说明"].iter_rows(values_only=True)]
    values = {row[0]: row[1] for row in guide if row and row[0]}
    assert values["性别"] == "男、女"
    assert values["与户主关系"].startswith("户主、本人、配偶")
    assert "脱贫户" in values["重点户标签"]
    assert ("王庄村", "一组、二组") in [row[:2] for row in guide]
    assert tuple(HEADERS) in [tuple(row[: len(HEADERS)]) for row in guide]
    assert (
        client.get(reverse("ledger:template") + f"?node={county.village_b.pk}").status_code == 404
    )
    checked = ledger_check(
        by=owner, node=county.village_a, filename="t.xlsx", data=response.content
    )
    assert (checked.report["rows"], checked.report["errors"]) == (0, [])


def test_export_command(county, owner, ledger, tmp_path):
    out = tmp_path / "ledger.csv"
    call_command(
        "export_ledger", node=county.village_a.pk, user="owner", out=str(out), unmasked=True
    )
    text = out.read_text(encoding="utf-8-sig")
    assert county.resident_a1.id_number.reveal() in text
    assert AuditEvent.objects.get(action="personal_data.export").username == "owner"


def test_a_masked_export_naming_children_reimports_without_writing_the_stars(county, owner, member):
    """A grid worker's masked file masks the children's names in the free text; importing it
    leaves the recorded text as it was (children's names stay masked)."""
    from minqing.households.ledger.exporter import ledger_export

    add_child(owner, county.household_a1, "王小宝")
    Resident.objects.filter(pk=county.resident_a1.pk).update(notes="接送王小宝上学")
    Household.objects.filter(pk=county.household_a1.pk).update(income_source="务农，小宝父母寄钱")
    data = b"".join(ledger_export(by=member, node=county.grid_a1, file_format="xlsx").chunks)
    text = unzipped(data).decode("utf-8", "replace")
    assert "小宝" not in text and "接送王**上学" in text
    # The village cadre imports the grid worker's file (grid workers import nothing).
    checked = ledger_check(by=owner, node=county.village_a, filename="m.xlsx", data=data)
    assert checked.report["errors"] == []
    assert checked.report["plan"]["residents"]["update"] == 0
    assert checked.report["plan"]["households"]["update"] == 0
    ledger_import(by=owner, ledger_import=checked)
    assert Resident.objects.get(pk=county.resident_a1.pk).notes == "接送王小宝上学"


def test_a_file_with_the_old_id_mask_still_reimports(county, owner):
    """Exports made with the old mask show an ID as 3416**********0119: still "unchanged"."""
    from minqing.households.ledger.exporter import ledger_rows
    from minqing.lib.masking import legacy_mask_id_number

    rows = list(ledger_rows(county.village_a, unmasked=False, minors=True))
    column = HEADERS.index("身份证号")
    by_masked = {mask_id_number(r.id_number.reveal()): r for r in village_a_people()}
    for row in rows:
        if row[column]:
            row[column] = legacy_mask_id_number(by_masked[row[column]].id_number.reveal())
    checked = ledger_check(
        by=owner, node=county.village_a, filename="old.xlsx", data=xlsx_bytes(rows)
    )
    assert checked.report["errors"] == []
    assert checked.report["plan"]["residents"] == {"create": 0, "update": 0, "unchanged": 2}
