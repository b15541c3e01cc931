"""Small files that unpack into huge sheets are refused before they are read (no memory exhaustion):
a 50 KB workbook with a cell in column XFD on 6,000 rows took a worker from 139 MB to 887 MB."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.utils import translation
from openpyxl import Workbook

from minqing.households.ledger.columns import HEADERS
from minqing.households.ledger.reader import (
    MAX_COLUMNS,
    MAX_SHEET_ROWS,
    LedgerFileError,
    read_ledger,
)
from minqing.households.tests.ledger_helpers import COL, xlsx_bytes
from minqing.households.tests.writes import writes


def _workbook(fill) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    fill(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xfd_bomb(rows: int = 6000) -> bytes:
    """The attack: a short row of text and one cell in the sheet's last column, 6,000 times."""

    def fill(sheet) -> None:
        for r in range(2, rows + 2):
            sheet.cell(row=r, column=1, value="A001")
            sheet.cell(row=r, column=16384, value="x")

    return _workbook(fill)


def _refusal(data: bytes) -> str:
    with pytest.raises(LedgerFileError) as caught:
        read_ledger(data, "xlsx")
    return caught.value.message


def test_a_cell_in_column_xfd_is_refused_naming_the_column_in_chinese():
    data = xfd_bomb()
    assert len(data) < 200_000
    with translation.override("zh-hans"):
        message = _refusal(data)
    assert message == (
        "工作表最右边的单元格在 XFD 列；台账最多只能用 200 列（到 GR 列为止）。"
        "请在 Excel 或 WPS 中删除表格右边的列，保存后重新上传。"
    )


def _with_sheet_xml(data: bytes, edit) -> bytes:
    """The workbook with its first sheet's XML passed through ``edit`` (openpyxl would build
    every merged cell of a huge range in memory: the attacker writes the XML by hand)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = edit(content)
            dst.writestr(item, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_a_merged_range_across_the_sheet_is_refused():
    data = _with_sheet_xml(
        xlsx_bytes([["A001"]]),
        lambda xml: xml.replace(
            b"</sheetData>",
            b'</sheetData><mergeCells count="1"><mergeCell ref="A2:WQJ6000"/></mergeCells>',
        ),
    )
    assert "column WQJ" in _refusal(data)


def test_a_cell_far_below_the_table_is_refused():
    def fill(sheet) -> None:
        sheet.cell(row=MAX_SHEET_ROWS + 1, column=1, value="x")

    assert f"row {MAX_SHEET_ROWS + 1}" in _refusal(_workbook(fill))


def test_a_zip_bomb_is_refused_before_openpyxl_reads_it():
    data = xlsx_bytes([])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item), compress_type=zipfile.ZIP_DEFLATED)
        # 50 MB of one repeated byte packs into some 50 KB
        dst.writestr("xl/media/padding.bin", b"\0" * (50 << 20), zipfile.ZIP_DEFLATED)
    assert len(out.getvalue()) < 200_000
    assert _refusal(out.getvalue()) == (
        "The workbook unpacks to an unreasonable size; it cannot be read."
    )


def test_a_ledger_using_columns_up_to_the_limit_still_reads():
    def fill(sheet) -> None:
        sheet.cell(row=2, column=COL["姓名"] + 1, value="王建国")
        sheet.cell(row=2, column=MAX_COLUMNS, value="备注")  # a stray note in the last column

    table = read_ledger(_workbook(fill), "xlsx")
    assert [row.number for row in table.rows] == [2]
    assert table.rows[0].cells["name"] == "王建国"


MEASURE = """
import json, os, resource, sys
import django
django.setup()
import openpyxl  # noqa: F401 - loaded before the baseline
from minqing.households.ledger.reader import LedgerFileError, read_ledger
data = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_ledger(data, "xlsx")
    outcome = "read"
except LedgerFileError as exc:
    outcome = exc.message
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (peak - base) / 1024, "outcome": outcome}))
"""


@pytest.mark.slow
def test_reading_the_xfd_bomb_stays_within_100_mb(tmp_path: Path):
    """Peak RSS of a fresh process reading the attack file (the whole worker's view)."""
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(xfd_bomb())
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "minqing.settings",
        "MINQING_DATA_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "measure",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", MEASURE, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "XFD" in result["outcome"]
    assert result["growth_mb"] < 100, result


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, county, owner, settings):
    from django.urls import reverse

    from minqing.households.models import LedgerImport

    settings.LEDGER_MAX_UPLOAD_BYTES = 64 * 1024
    settings.MINQING_UPLOAD_LIMITS = {"file": 64 * 1024, "photo": 64 * 1024}
    big = io.BytesIO(xlsx_bytes([]) + b"\0" * (1 << 20))
    big.name = "台账.xlsx"
    client.force_login(owner)
    before = writes()
    response = client.post(
        reverse("ledger:import", kwargs={"node_pk": county.village_a.pk}), {"file": big}
    )
    assert response.status_code == 400
    assert writes() == before
    assert "The file is larger than 64 KB." in response.content.decode()
    assert not LedgerImport.objects.exists()
