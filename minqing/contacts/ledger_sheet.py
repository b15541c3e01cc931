"""包保联系台账 on paper: the xlsx sheet of a place's households with their responsible people.

One sheet: a title row naming the place, a row saying when, by whom and whether phones are
masked, the column headers, then one row per household. Rows stream into a write-only workbook
on disk, so a town of 30,000 households stays in bounded memory. Headers are Chinese, like the
household ledger's: the file is read and printed in the county. Pure computation: rows in, a
file out; reading the rows is ``selectors.ledger``, the audited export ``services.ledger_export``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from minqing.contacts.models import LiaisonKind
from minqing.contacts.selectors.ledger import LedgerRow
from minqing.contacts.selectors.network import KindRule
from minqing.lib.fields import plain

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "包保联系台账"
#: What the county calls each kind of responsible person, on paper.
KIND_WORDS = {
    LiaisonKind.GROUP_LEADER: "居民组长",
    LiaisonKind.REPRESENTATIVE: "村民代表",
    LiaisonKind.PARTY_MEMBER: "联户党员",
    LiaisonKind.CADRE: "结对干部",
}
FIXED_HEADERS = ["村/社区", "组/网格", "户编号", "户主", "重点户标签"]
MISSING_HEADER = "缺少"
_FIXED_WIDTHS = [12, 14, 12, 10, 22]


@dataclass
class LedgerFile:
    """A finished export: stream ``chunks`` to the user under ``filename``."""

    filename: str
    content_type: str
    chunks: Iterator[bytes]


def kind_word(kind: str) -> str:
    """What the county calls a kind of responsible person, on paper."""
    return KIND_WORDS.get(LiaisonKind(kind), kind) if kind in LiaisonKind.values else kind


def headers(rules: Sequence[KindRule]) -> list[str]:
    kinds = []
    for rule in rules:
        kinds += [kind_word(rule.kind), f"{kind_word(rule.kind)}电话"]
    return [*FIXED_HEADERS, *kinds, MISSING_HEADER]


def row_values(row: LedgerRow, *, unmasked: bool) -> list[str]:
    """One household's cells, in ``headers(rules)`` order."""
    values = [row.village, row.place, row.number, row.head_name, "、".join(row.tags)]
    for cell in row.cells:
        name = f"{cell.name}（已退出）" if cell.retired else cell.name
        phone = (plain(cell.phone) if unmasked else str(cell.phone)) if cell.phone else ""
        values += [name, phone]
    values.append("、".join(kind_word(c.kind) for c in row.cells if c.missing))
    return values


def file_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := fh.read(1 << 16):
            yield chunk
    finally:
        fh.close()


def write_xlsx(
    rows: Iterable[LedgerRow],
    rules: Sequence[KindRule],
    *,
    title: str,
    stamp: str,
    who: str,
    unmasked: bool,
) -> IO[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    workbook.properties.creator = who
    workbook.properties.title = title
    workbook.properties.description = stamp
    sheet = workbook.create_sheet(SHEET)
    widths = [*_FIXED_WIDTHS, *([10, 14] * len(rules)), 16]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A4"

    def cell(value: Any, font: Any = None) -> Any:
        out = WriteOnlyCell(sheet, value=value)
        out.data_type = "s"  # typed text never becomes a formula
        if font is not None:
            out.font = font
        return out

    def plain_or_text(value: str) -> Any:
        # Plain values are much cheaper to write; only text openpyxl would read as a formula
        # needs a cell of its own.
        if not value:
            return None
        return cell(value) if value.startswith("=") else value

    sheet.append([cell(title, Font(bold=True, size=14))])
    sheet.append([cell(stamp)])
    bold = Font(bold=True)
    sheet.append([cell(text, bold) for text in headers(rules)])
    for row in rows:
        sheet.append([plain_or_text(v) for v in row_values(row, unmasked=unmasked)])
    fh = tempfile.TemporaryFile()  # noqa: SIM115 - closed by file_chunks
    workbook.save(fh)
    fh.seek(0)
    return fh
