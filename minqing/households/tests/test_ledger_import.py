"""Ledger import: row-level reports, all-or-nothing, valid-only, idempotent re-import, scope."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.households.jobs import run_queued_imports
from minqing.households.ledger import storage
from minqing.households.ledger.importer import ImportRefused, ledger_check, ledger_import
from minqing.households.ledger.reader import LedgerFileError
from minqing.households.models import ArchiveChange, Household, LedgerImport, Resident
from minqing.households.tests.ledger_helpers import COL, csv_bytes, make_ledger, xlsx_bytes
from minqing.lib.crypto import blind_index
from minqing.lib.errors import PermissionDenied
from minqing.lib.idcard import make_id_number
from minqing.org.models import Level, Node
from minqing.org.services import node_create, recount_tree

CHECK_DIGIT = "ID number check digit is wrong."
INVALID_DATE = "Birth date is not a real calendar date."
BAD_PHONE = (
    "Phone must be an 11-digit mobile number starting with 13–19, or a landline such as "
    "0558-1234567."
)


@pytest.fixture(autouse=True)
def _english_and_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    with translation.override("en"):
        yield


def snapshot() -> tuple[int, ...]:
    return (
        Household.objects.count(),
        Resident.objects.count(),
        ArchiveChange.objects.count(),
        AuditEvent.objects.count(),
        sum(Household.objects.values_list("version", flat=True)),
    )


def imported_files(settings) -> list:
    root = storage.imports_dir()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def bad_ledger(county):
    """1,000 rows with exactly ten bad ones, one per household; returns (ledger, expected)."""
    ledger = make_ledger(1000)
    sizes = {n: idx for n, idx in ledger.households.items()}
    singles = [n for n, idx in sizes.items() if len(idx) == 1]
    multis = [n for n, idx in sizes.items() if len(idx) >= 3]
    expected = []

    def second(n: int) -> int:
        return sizes[multis[n]][1]

    r = ledger.rows
    # 1. bad check digit
    i = second(0)
    good = r[i][COL["身份证号"]]
    r[i][COL["身份证号"]] = good[:17] + ("1" if good[17] != "1" else "2")
    expected.append((i, "身份证号", CHECK_DIGIT))
    # 2. impossible date
    i = second(3)
    r[i][COL["出生日期"]] = "1980-02-30"
    expected.append((i, "出生日期", INVALID_DATE))
    # 3. bad phone
    i = second(6)
    r[i][COL["联系电话"]] = "1234567"
    expected.append((i, "联系电话", BAD_PHONE))
    # 4. unknown village (a one-person household)
    i = sizes[singles[2]][0]
    r[i][COL["村/社区"]] = "张庄村"
    expected.append((i, "村/社区", "No village/community “张庄村” under 王庄村."))
    # 5. unknown relation word
    i = second(9)
    r[i][COL["与户主关系"]] = "表哥"
    expected.append((i, "与户主关系", "Relation to head: unknown value “表哥”."))
    # 6. missing name
    i = second(12)
    r[i][COL["姓名"]] = ""
    expected.append((i, "姓名", "Name is required."))
    # 7. the same ID number twice in the file (copied with its sex and birth date)
    source, i = sizes[multis[1]][2], second(15)
    for header in ("身份证号", "性别", "出生日期"):
        r[i][COL[header]] = r[source][COL[header]]
    expected.append((i, "身份证号", f"Same ID number as row {ledger.sheet_row(source)}."))
    # 8. sex that contradicts the ID number
    i = second(18)
    r[i][COL["性别"]] = "男" if r[i][COL["性别"]] == "女" else "女"
    expected.append((i, "性别", "Sex does not match the ID number."))
    # 9. unknown group (a one-person household)
    i = sizes[singles[5]][0]
    r[i][COL["组/网格"]] = "九组"
    expected.append((i, "组/网格", "No group/grid “九组” in 王庄村."))
    # 10. an ID number that belongs to a resident of another village's household
    i = second(21)
    other = county.resident_b1
    r[i][COL["身份证号"]] = other.id_number.reveal()
    r[i][COL["性别"]] = "男"
    r[i][COL["出生日期"]] = other.birth_date.isoformat()
    expected.append(  # not where (the importer may not see that village: no existence oracle)
        (
            i,
            "身份证号",
            "This ID number cannot be registered here. Check it against the identity card; "
            "if it is right, ask the county office to look into it.",
        )
    )
    expected.sort()
    return ledger, expected


def check(user, node, data: bytes, name: str = "台账.xlsx") -> LedgerImport:
    return ledger_check(by=user, node=node, filename=name, data=data)


# --- the 1,000-row ledger ---------------------------------------------------------------------


def test_thousand_rows_with_ten_bad_reports_exactly_those_and_imports_nothing(
    county, owner, settings
):
    ledger, expected = bad_ledger(county)
    before = snapshot()
    checked = check(owner, county.village_a, xlsx_bytes(ledger.rows))
    report = checked.report
    assert [(e["row"], e["column"], e["message"]) for e in report["errors"]] == [
        (ledger.sheet_row(i), column, message) for i, column, message in expected
    ]
    assert report["rows"] == 1000
    assert report["households"] == 334
    assert report["bad_rows"] == 10
    bad_households = {ledger.household_of(i) for i, _c, _m in expected}
    assert report["skipped_households"] == 10
    assert report["skipped_rows"] == sum(len(ledger.households[n]) for n in bad_households)
    assert report["plan"]["households"] == {"create": 324, "update": 0, "unchanged": 0}
    assert report["plan"]["residents"] == {
        "create": 1000 - report["skipped_rows"],
        "update": 0,
        "unchanged": 0,
    }
    assert checked.status == LedgerImport.Status.CHECKED
    assert len(imported_files(settings)) == 1
    assert snapshot() == before  # checking changes nothing

    with pytest.raises(ImportRefused):
        ledger_import(by=owner, ledger_import=checked)
    assert snapshot() == before
    assert not ArchiveChange.objects.filter(action=ArchiveChange.Action.IMPORT).exists()
    assert not AuditEvent.objects.filter(action="ledger.import").exists()
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.CHECKED


def test_valid_only_imports_exactly_the_valid_households(county, owner):
    ledger, expected = bad_ledger(county)
    bad_households = {ledger.household_of(i) for i, _c, _m in expected}
    households_before = Household.objects.count()
    residents_before = Resident.objects.count()
    checked = check(owner, county.village_a, xlsx_bytes(ledger.rows))
    done = ledger_import(by=owner, ledger_import=checked, valid_only=True)
    valid = {n: idx for n, idx in ledger.households.items() if n not in bad_households}
    assert done.status == LedgerImport.Status.IMPORTED
    assert done.valid_only is True
    assert Household.objects.count() == households_before + len(valid) == households_before + 324
    assert Resident.objects.count() == residents_before + sum(len(v) for v in valid.values())
    assert set(
        Household.objects.filter(number__startswith="L").values_list("number", flat=True)
    ) == set(valid)
    assert done.report["result"]["households"] == {"create": 324, "update": 0, "unchanged": 0}
    # one audit row per batch (each in the transaction it records), and the history of every
    # new record
    audits = list(AuditEvent.objects.filter(action="ledger.import").order_by("id"))
    assert [a.detail["batch"] for a in audits] == list(range(1, len(audits) + 1))
    assert [a.detail["last"] for a in audits] == [False] * (len(audits) - 1) + [True]
    assert len(audits) == done.report["progress"]["batches_done"] > 1
    assert {a.detail["skipped_households"] for a in audits} == {10}
    assert sum(a.detail["households"]["create"] for a in audits) == 324
    assert done.report["progress"]["state"] == "done"
    assert done.report["progress"]["households_done"] == 324
    assert ArchiveChange.objects.filter(action=ArchiveChange.Action.IMPORT).count() == 324 + sum(
        len(v) for v in valid.values()
    )
    # counts on the tree equal a full recount
    village = Node.objects.get(pk=county.village_a.pk)
    assert village.household_count == 2 + 324
    assert recount_tree() == 0
    head = Household.objects.get(village=county.village_a, number="L0001")
    assert head.member_count == 1
    assert head.phone.reveal() == "13500000000"
    assert sorted(head.tags.values_list("name", flat=True)) == ["务工户", "脱贫户"]
    assert head.node == county.grid_a1


def test_reimporting_the_same_file_changes_nothing(county, owner):
    ledger = make_ledger(200)
    data = xlsx_bytes(ledger.rows)
    ledger_import(by=owner, ledger_import=check(owner, county.village_a, data))
    before = snapshot()
    versions = dict(Household.objects.values_list("pk", "version"))
    again = check(owner, county.village_a, data)
    assert again.report["errors"] == []
    assert again.report["plan"]["households"] == {
        "create": 0,
        "update": 0,
        "unchanged": len(ledger.households),
    }
    assert again.report["plan"]["residents"] == {"create": 0, "update": 0, "unchanged": 200}
    done = ledger_import(by=owner, ledger_import=again)
    after = snapshot()
    assert after[:3] == before[:3]  # no new household, resident or history row
    # only the audit rows of the import itself, one per batch
    assert after[3] == before[3] + done.report["progress"]["batches_done"]
    assert dict(Household.objects.values_list("pk", "version")) == versions


def test_changed_phone_updates_the_resident_and_writes_one_change(county, owner):
    ledger = make_ledger(50)
    ledger_import(by=owner, ledger_import=check(owner, county.village_a, xlsx_bytes(ledger.rows)))
    changes = ArchiveChange.objects.count()
    index = ledger.households["L0003"][1]
    ledger.rows[index][COL["联系电话"]] = "13700001111"
    checked = check(owner, county.village_a, xlsx_bytes(ledger.rows))
    assert checked.report["plan"]["residents"] == {"create": 0, "update": 1, "unchanged": 49}
    assert checked.report["plan"]["households"]["update"] == 0
    ledger_import(by=owner, ledger_import=checked)
    resident = Resident.objects.get(
        id_number_hash=blind_index(ledger.rows[index][COL["身份证号"]], "id_number")
    )
    assert resident.phone.reveal() == "13700001111"
    change = ArchiveChange.objects.exclude(pk__lte=0).order_by("-id").first()
    assert ArchiveChange.objects.count() == changes + 1
    assert change.action == ArchiveChange.Action.IMPORT
    assert change.resident_name == resident.name
    assert change.changes == [["phone", "******", "******"]]
    assert resident.household.version == 2


def test_existing_household_is_updated_not_duplicated(county, owner):
    """Rows for household A001 of the fixture update it; blank cells keep what is recorded."""
    rows = [
        [
            "王庄村",
            "一组",
            "A001",
            "王建国",
            "王庄村新址1号",
            "",
            "低保户",
            "",
            "王建国",
            "户主",
            "",
            county.resident_a1.id_number.reveal(),
            "",
            "",
            "",
            "高中",
            "",
            "",
            "",
            "",
        ],
        [
            "王庄村",
            "",
            "A001",
            "",
            "",
            "",
            "",
            "",
            "王小红",
            "女",
            "女",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
    check_ = check(owner, county.village_a, xlsx_bytes(rows))
    assert check_.report["errors"] == []
    assert check_.report["plan"] == {
        "households": {"create": 0, "update": 1, "unchanged": 0},
        "residents": {"create": 1, "update": 1, "unchanged": 0},
    }
    ledger_import(by=owner, ledger_import=check_)
    household = Household.objects.get(pk=county.household_a1.pk)
    assert household.address == "王庄村新址1号"
    assert household.phone.reveal() == "13812345678"  # blank keeps
    assert household.income_source == "务农"
    assert list(household.tags.values_list("name", flat=True)) == ["低保户"]
    assert household.member_count == 2
    assert household.version == 2
    assert recount_tree() == 0
    head = Resident.objects.get(pk=county.resident_a1.pk)
    assert head.education == "高中"
    assert head.health_notes.reveal() == "高血压"  # not a ledger column: untouched
    assert head.phone.reveal() == "13812345678"


def test_household_moved_to_another_group_keeps_counts_right(county, owner):
    ledger = make_ledger(30)
    ledger_import(by=owner, ledger_import=check(owner, county.village_a, xlsx_bytes(ledger.rows)))
    moved = ledger.households["L0004"]  # four members in 二组
    for i in moved:
        if ledger.rows[i][COL["组/网格"]]:
            ledger.rows[i][COL["组/网格"]] = "一组"
    checked = check(owner, county.village_a, xlsx_bytes(ledger.rows))
    assert checked.report["plan"]["households"] == {"create": 0, "update": 1, "unchanged": 9}
    ledger_import(by=owner, ledger_import=checked)
    household = Household.objects.get(number="L0004")
    assert household.node == county.grid_a1
    assert household.changes.first().changes == [["node", "二组", "一组"]]
    assert recount_tree() == 0
    grid_a1 = Node.objects.get(pk=county.grid_a1.pk)
    assert grid_a1.resident_count == 1 + sum(
        len(idx)
        for n, idx in ledger.households.items()
        if ledger.rows[idx[0]][COL["组/网格"]] == "一组"
    )


def test_grid_target_is_refused(client, county, member):
    client.force_login(member)
    page = client.get(reverse("ledger:import", kwargs={"node_pk": county.grid_a1.pk}))
    assert page.status_code == 200
    assert b'type="file"' not in page.content
    with pytest.raises(LedgerFileError):
        check(member, county.grid_a1, xlsx_bytes(make_ledger(3).rows))


# --- cross-row checks -------------------------------------------------------------------------


def row(number, name, relation, *, village="王庄村", head="", address="", id_number="", sex=""):
    out = [""] * len(COL)
    out[COL["村/社区"]], out[COL["户编号"]], out[COL["姓名"]] = village, number, name
    out[COL["与户主关系"]], out[COL["户主姓名"]], out[COL["家庭住址"]] = relation, head, address
    out[COL["身份证号"]], out[COL["性别"]] = id_number, sex
    return out


def test_cross_row_problems_are_reported(county, owner):
    rows = [
        row("X1", "赵大", "配偶", head="赵一"),  # 2: no 户主 in X1
        row("X2", "钱二", "户主", head="钱二", address="东街1号"),  # 3
        row("X2", "钱三", "子", head="钱二", address="西街9号"),  # 4: address disagrees
        row("X3", "孙四", "户主", head="孙五"),  # 5: head name differs
        row("X4", "李六", "户主", head="李六"),  # 6
        row("X4", "李七", "户主"),  # 7: second 户主
    ]
    report = check(owner, county.village_a, xlsx_bytes(rows)).report
    assert [(e["row"], e["column"], e["message"]) for e in report["errors"]] == [
        (2, "与户主关系", "Household X1 has no row whose relation is 户主."),
        (4, "家庭住址", "Differs from row 3 of the same household."),
        (5, "姓名", "The 户主 row's name differs from 户主姓名 “孙五”."),
        (7, "与户主关系", "Household X4 already has its 户主 on row 6."),
    ]
    assert report["valid_households"] == 0


def test_ambiguous_and_unknown_villages_when_importing_into_the_county(county, county_user):
    other_town = county.town_b
    node_create(name="王庄村", level=Level.VILLAGE, parent=other_town)
    rows = [
        row("Y1", "周一", "户主", village="王庄村"),
        row("Y2", "吴二", "户主", village="李集村"),
        row("Y3", "郑三", "户主", village="不存在村"),
    ]
    report = check(county_user, county.county, xlsx_bytes(rows)).report
    assert [(e["row"], e["message"]) for e in report["errors"]] == [
        (2, "Several villages under 谯城区 are called “王庄村”; import into their town instead."),
        (4, "No village/community “不存在村” under 谯城区."),
    ]
    assert report["plan"]["households"]["create"] == 1  # Y2 in 李集村


def test_tolerant_headers_title_rows_and_merged_cells(county, owner):
    headers = [
        "序号",
        "村（社区）",
        "组 别",
        "户号",
        "户主",
        "住址",
        "姓名",
        "与户主的关系",
        "性别",
        "公民身份号码*",
        "手机号",
        "出生年月",
    ]
    wb = Workbook()
    ws = wb.active
    ws.append(["王庄村户籍台账"])
    ws.merge_cells("A1:L1")
    ws.append(headers)
    born = dt.date(1966, 4, 5)
    ws.append(
        [
            1,
            "王庄村",
            "二组",
            "M1",
            "冯大山",
            "二组5号",
            "冯大山",
            "户主",
            "男",
            make_id_number("341602", born, 41, "M"),
            13955556666,
            born,
        ]
    )
    ws.append(
        [
            2,
            None,
            None,
            None,
            None,
            None,
            "冯小花",
            "女",
            "女",
            make_id_number("341602", dt.date(1990, 1, 2), 42, "F"),
            None,
            None,
        ]
    )
    for col in "BCDEF":
        ws.merge_cells(f"{col}3:{col}4")
    out = io.BytesIO()
    wb.save(out)
    checked = check(owner, county.village_a, out.getvalue())
    assert checked.report["errors"] == []
    assert checked.report["header_row"] == 2
    assert checked.report["ignored_columns"] == ["序号"]
    ledger_import(by=owner, ledger_import=checked)
    household = Household.objects.get(number="M1")
    assert household.node == county.grid_a2
    assert household.address == "二组5号"
    assert list(household.members.values_list("name", "relation", "sex")) == [
        ("冯大山", "head", "M"),
        ("冯小花", "child", "F"),
    ]
    assert household.members.first().phone.reveal() == "13955556666"
    assert household.members.last().birth_date == dt.date(1990, 1, 2)


def test_csv_in_gb18030_with_comment_line(county, owner):
    data = (
        "# 导出人: x\n"
        + csv_bytes([row("C1", "陈一", "户主")], encoding="utf-8").decode("utf-8-sig")
    ).encode("gb18030")
    checked = check(owner, county.village_a, data, name="ledger.CSV")
    assert checked.report["errors"] == []
    assert checked.report["header_row"] == 2
    assert checked.report["plan"]["households"]["create"] == 1


def test_id_number_stored_as_a_number_is_explained(county, owner):
    rows = [row("N1", "马一", "户主", id_number="")]
    rows[0][COL["身份证号"]] = 341602197003110000.0
    report = check(owner, county.village_a, xlsx_bytes(rows)).report
    assert report["errors"] == [
        {
            "row": 2,
            "column": "身份证号",
            "message": "The ID number was stored as a number and Excel dropped its last digits. "
            "Format the column as text and type the number again.",
        }
    ]


# --- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("台账.xls", b"\xd0\xcf\x11\xe0", "Old .xls files cannot be read."),
        ("台账.pdf", b"%PDF-1.4", "Upload an Excel workbook (.xlsx) or a CSV file (.csv)."),
        ("台账.xlsx", b"name,id\n1,2\n", "The file is not a valid Excel workbook (.xlsx)."),
        ("台账.xlsx", b"PK\x03\x04broken", "The file is not a valid Excel workbook (.xlsx)."),
        ("台账.csv", b"PK\x03\x04\x00\x00", "The file is not a CSV text file."),
        ("台账.csv", b"a,b\n1,2\n", "No header row found."),
        ("台账.csv", b"", "The file is empty."),
    ],
)
def test_bad_files_get_a_clear_message_and_nothing_is_stored(
    county, owner, settings, name, data, message
):
    with pytest.raises(LedgerFileError) as exc:
        check(owner, county.village_a, data, name=name)
    assert exc.value.message.startswith(message)
    assert LedgerImport.objects.count() == 0
    assert imported_files(settings) == []


def test_oversize_file_is_refused_before_reading(county, owner, settings):
    settings.LEDGER_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(LedgerFileError) as exc:
        check(owner, county.village_a, xlsx_bytes(make_ledger(50).rows))
    assert exc.value.message == "The file is larger than 1 KB. Split it, e.g. by village."
    assert LedgerImport.objects.count() == 0
    assert imported_files(settings) == []


def test_stored_file_is_sealed(county, owner, settings):
    ledger = make_ledger(5)
    checked = check(owner, county.village_a, csv_bytes(ledger.rows), name="a.csv")
    (path,) = imported_files(settings)
    raw = path.read_bytes()
    assert ledger.rows[0][COL["身份证号"]].encode() not in raw
    assert storage.load(checked.stored_path) == csv_bytes(ledger.rows)


# --- scope and permissions --------------------------------------------------------------------


def test_import_out_of_scope_is_404_and_without_edit_role_403(
    client, county, owner, member, outsider
):
    data = xlsx_bytes(make_ledger(10).rows)
    viewer = make_user("representative", Role.REPRESENTATIVE, county.village_a)
    before = snapshot()
    url = reverse("ledger:import", kwargs={"node_pk": county.village_a.pk})
    for user in (member, outsider):
        client.force_login(user)
        upload = {"file": _upload(data)}
        assert client.post(url, upload).status_code == 404
        assert client.get(url).status_code == 404
        with pytest.raises(Node.DoesNotExist):
            check(user, county.village_a, data)
    client.force_login(viewer)
    assert client.post(url, {"file": _upload(data)}).status_code == 403
    with pytest.raises(PermissionDenied):
        check(viewer, county.village_a, data)
    assert snapshot() == before
    assert LedgerImport.objects.count() == 0


def test_someone_elses_import_is_404(client, county, owner):
    checked = check(owner, county.village_a, xlsx_bytes(make_ledger(5).rows))
    colleague = make_user("colleague", Role.VILLAGE_CADRE, county.village_a)
    client.force_login(colleague)
    url = reverse("ledger:report", kwargs={"pk": checked.pk})
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "import"}).status_code == 404
    with pytest.raises(LedgerImport.DoesNotExist):
        ledger_import(by=colleague, ledger_import=checked)
    assert Household.objects.count() == 3


def _upload(data: bytes, name: str = "台账.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


# --- pages and commands -----------------------------------------------------------------------


def test_upload_report_and_import_pages(client, county, owner):
    ledger, _expected = bad_ledger(county)
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    url = reverse("ledger:import", kwargs={"node_pk": county.village_a.pk})
    assert client.get(url).status_code == 200
    response = client.post(url, {"file": _upload(xlsx_bytes(ledger.rows))})
    assert response.status_code == 302
    checked = LedgerImport.objects.get()
    assert response["Location"] == reverse("ledger:report", kwargs={"pk": checked.pk})
    page = client.get(response["Location"]).content.decode()
    assert "Same ID number as row" in page
    assert 'value="valid_only"' in page
    assert 'value="import"' not in page  # no plain import while the file has errors
    errors = client.get(reverse("ledger:errors", kwargs={"pk": checked.pk}))
    assert errors.status_code == 200
    assert errors["Content-Type"].startswith("text/csv")
    assert len(b"".join(errors.streaming_content).decode("utf-8-sig").splitlines()) == 11
    assert client.post(response["Location"], {"action": "import"}).status_code == 400
    assert Household.objects.count() == 3
    # "Import valid rows only" queues it: the worker writes it (the county is not blocked)
    assert client.post(response["Location"], {"action": "valid_only"}).status_code == 302
    assert Household.objects.count() == 3
    assert client.post(response["Location"], {"action": "valid_only"}).status_code == 400
    assert run_queued_imports()["imported"] == 1
    assert Household.objects.count() == 3 + 324
    assert client.post(response["Location"], {"action": "valid_only"}).status_code == 400
    assert Household.objects.count() == 3 + 324


def test_upload_page_explains_a_bad_file(client, county, owner, settings):
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    url = reverse("ledger:import", kwargs={"node_pk": county.village_a.pk})
    response = client.post(url, {"file": _upload(b"hello", "x.docx")})
    assert response.status_code == 400
    assert "Upload an Excel workbook (.xlsx) or a CSV file (.csv)." in response.content.decode()
    assert client.post(url, {}).status_code == 400
    assert LedgerImport.objects.count() == 0
    assert imported_files(settings) == []


def test_import_command(county, owner, tmp_path, capsys):
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(xlsx_bytes(make_ledger(20).rows))
    call_command("import_ledger", str(path), node=county.village_a.pk, user="owner")
    out = capsys.readouterr().out
    assert "Imported" in out
    assert Household.objects.filter(number__startswith="L").count() == 8


# --- short transactions (a large import does not block other writers) ------------------------


def test_an_import_stopped_mid_way_says_how_far_it_got_and_continues_without_duplicates(
    client, county, owner, monkeypatch
):
    from django.db import IntegrityError

    from minqing.households.ledger import importer

    ledger = make_ledger(600)
    checked = check(owner, county.village_a, xlsx_bytes(ledger.rows))
    households_before = Household.objects.count()
    residents_before = Resident.objects.count()
    real = importer.households_import
    calls = []

    def fails_on_the_third_batch(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise IntegrityError("UNIQUE constraint failed: someone else wrote meanwhile")
        return real(**kwargs)

    monkeypatch.setattr(importer, "households_import", fails_on_the_third_batch)
    monkeypatch.setattr(importer, "BATCH_PAUSE_S", 0)
    with pytest.raises(ImportRefused) as refused:
        ledger_import(by=owner, ledger_import=checked)
    checked.refresh_from_db()
    progress = checked.report["progress"]
    done = progress["households_done"]
    assert progress["state"] == "stopped" and progress["batches_done"] == 2
    assert 0 < done < len(ledger.households) == progress["households"]
    assert refused.value.message.startswith(
        f"The archive changed during the import. {done} of {len(ledger.households)} households "
        "were imported; the others were not."
    )
    assert checked.status == LedgerImport.Status.FAILED
    assert checked.can_import  # it can be imported again
    assert Household.objects.count() == households_before + done
    # the user sees how far it got, and the button to finish
    client.force_login(owner)
    page = client.get(reverse("ledger:report", kwargs={"pk": checked.pk})).content.decode()
    assert refused.value.message in page
    assert 'value="import"' in page

    monkeypatch.setattr(importer, "households_import", real)
    finished = ledger_import(by=owner, ledger_import=checked)
    assert finished.status == LedgerImport.Status.IMPORTED
    assert finished.report["progress"]["runs"] == 2
    # everything once: the households of the first run were found and left as they were
    assert Household.objects.count() == households_before + len(ledger.households)
    assert Resident.objects.count() == residents_before + 600
    assert finished.report["result"]["households"] == {
        "create": len(ledger.households),
        "update": 0,
        "unchanged": 0,
    }
    assert recount_tree() == 0
    with pytest.raises(ImportRefused):
        ledger_import(by=owner, ledger_import=finished)


def test_a_batch_the_archive_no_longer_allows_is_not_written(county, owner, monkeypatch):
    """Checked clean, then someone registers one of the file's ID numbers in another village
    before its batch is written: that batch writes nothing, the import stops and says so."""
    from minqing.households.ledger import importer

    monkeypatch.setattr(importer, "BATCH_PAUSE_S", 0)
    ledger = make_ledger(300)
    checked = check(owner, county.village_a, xlsx_bytes(ledger.rows))
    last_id = ledger.rows[-1][COL["身份证号"]]
    real = importer.households_import
    calls = []

    def meanwhile(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            other = Resident.objects.get(pk=county.resident_b1.pk)
            other.id_number = last_id  # saved with its keyed hash, as any edit would
            other.save()
        return real(**kwargs)

    monkeypatch.setattr(importer, "households_import", meanwhile)
    with pytest.raises(ImportRefused) as refused:
        ledger_import(by=owner, ledger_import=checked)
    assert "The archive changed during the import." in refused.value.message
    assert not Resident.objects.filter(
        id_number_hash=blind_index(last_id, "id_number"), household__village=county.village_a
    ).exists()
    checked.refresh_from_db()
    assert checked.report["progress"]["state"] == "stopped"
