"""包保联系台账 as an Excel file: every household of a place with its responsible people.

One sheet: a title row naming the place, a row saying when, by whom and whether phones are
masked, the column headers, then one row per household. Phones are masked by default
(SECURITY.md 11); an unmasked file needs the reveal permission over the place. Every export
writes one ``contacts.ledger_export`` audit row before a byte is written. Households stream from
the database a chunk at a time into a write-only workbook on disk, so a town of 30,000
households stays in bounded memory. Headers are Chinese, like the household ledger's: the file
is read and printed in the county.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.permissions import Action, allowed
from minqing.audit.services import audit_record
from minqing.contacts.models import LiaisonKind
from minqing.contacts.selectors import (
    KindRule,
    LedgerRow,
    kind_rules,
    ledger_households,
    ledger_rows,
    ledger_values,
)
from minqing.lib import ratelimit
from minqing.lib.errors import PermissionDenied
from minqing.lib.fields import plain
from minqing.org.models import Level, Node

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
    return KIND_WORDS.get(kind, kind)


def headers(rules: Sequence[KindRule]) -> list[str]:
    kinds = []
    for rule in rules:
        kinds += [kind_word(rule.kind), f"{kind_word(rule.kind)}电话"]
    return [*FIXED_HEADERS, *kinds, MISSING_HEADER]


def place_path(node: Node) -> str:
    """ "谯城区/古井镇/王庄村": the place from its county (or the highest node) down."""
    ancestors = list(Node.objects.ancestors_of(node).values_list("name", "level"))
    start = next((i for i, (_name, level) in enumerate(ancestors) if level == Level.COUNTY), 0)
    return "/".join([*(name for name, _level in ancestors[start:]), node.name])


def ledger_export(
    *,
    by: Any,
    node: Node,
    unmasked: bool = False,
    place: Node | None = None,
    missing: str = "",
    request: Any = None,
) -> LedgerFile:
    """The ledger of ``node`` (narrowed like the page: ``place``, ``missing``) as xlsx.

    Out-of-scope nodes raise ``Node.DoesNotExist`` (answer 404); an unmasked export without the
    reveal permission over the node raises ``PermissionDenied`` and writes nothing.
    """
    ratelimit.consume(
        "export.unmasked" if unmasked else "export", by, request=request, audit=unmasked
    )
    if not allowed(by, Action.VIEW, node) or (
        place is not None and not place.is_descendant_of(node)
    ):
        raise Node.DoesNotExist
    if unmasked and not allowed(by, Action.REVEAL, node):
        raise PermissionDenied(_("Your role may not export full phone numbers."))
    rules = kind_rules(node)
    if missing not in ("", "any", *(r.kind for r in rules if r.required)):
        raise ValueError(missing)
    households = ledger_households(node, rules, place=place, missing=missing)
    count = households.count()
    with transaction.atomic():
        audit_record(
            action="contacts.ledger_export",
            user=by,
            request=request,
            obj=node,
            detail={
                "masked": not unmasked,
                "households": count,
                "place": place.pk if place is not None else None,
                "missing": missing,
            },
        )
    when = timezone.localtime()
    who = f"{by} ({by.username})" if str(by) != by.username else by.username
    title = f"包保联系台账  {place_path(node)}"
    if place is not None and place.pk != node.pk:
        title += f"/{place.name}"
    if missing:
        title += "  （仅列缺少联系人的户" + (
            f"：{kind_word(missing)}）" if missing != "any" else "）"
        )
    stamp = (
        f"导出时间：{when:%Y-%m-%d %H:%M}    导出人：{who}    "
        + ("电话未脱敏，请妥善保管，用完即删" if unmasked else "电话已脱敏")
        + f"    共 {count} 户"
    )
    rows = ledger_rows(ledger_values(households).iterator(chunk_size=2000), rules)
    fh = _write_xlsx(rows, rules, title=title, stamp=stamp, who=who, unmasked=unmasked)
    suffix = "-未脱敏" if unmasked else ""
    filename = f"包保联系台账-{node.name}-{when:%Y%m%d-%H%M}{suffix}.xlsx"
    return LedgerFile(filename, XLSX_TYPE, _file_chunks(fh))


def row_values(row: LedgerRow, *, unmasked: bool) -> list[str]:
    """One household's cells, in ``headers(rules)`` order."""
    values = [row.village, row.place, row.number, row.head_name, "、".join(row.tags)]
    for cell in row.cells:
        name = f"{cell.name}（已退出）" if cell.retired else cell.name
        phone = (plain(cell.phone) if unmasked else str(cell.phone)) if cell.phone else ""
        values += [name, phone]
    values.append("、".join(kind_word(c.kind) for c in row.cells if c.missing))
    return values


def _file_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := fh.read(1 << 16):
            yield chunk
    finally:
        fh.close()


def _write_xlsx(
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
    fh = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _file_chunks
    workbook.save(fh)
    fh.seek(0)
    return fh
