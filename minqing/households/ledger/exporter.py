"""Writing the ledger of a subtree (xlsx or csv), and the blank template to fill in.

An export has exactly the template's columns, so it re-imports cleanly. It is masked by default
(docs/SECURITY-BAR.md §11): ID ``3201*************4``, phone ``138****5678``, birth date
``1986-**-**`` (``minqing.lib.masking``), and children's names masked in the free text where the
reader may not see the children's records. An unmasked export needs the reveal permission over the
node, is audited as ``personal_data.export`` and carries who/when in the file (a "导出说明" sheet in
xlsx, a leading ``#`` line in csv — both skipped on import). Rows stream from the database in
chunks, so a town of ~20,000 households stays in bounded memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.db import transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.accounts.permissions import Action, allowed
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.households.ledger.columns import (
    COLUMNS,
    HEADERS,
    HEALTH_WORD,
    POLITICS_WORD,
    SEX_WORD,
    accepted_values,
    relation_word,
)
from minqing.households.models import Household, HouseholdTag, Relation, Resident
from minqing.households.selectors.shown import HouseholdShown
from minqing.lib import ratelimit
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.fields import Sensitive, plain
from minqing.lib.idcard import make_id_number
from minqing.lib.masking import mask_birth_date
from minqing.org.models import Level, Node, subtree_q

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
LEDGER_SHEET = "台账"
NOTE_SHEET = "导出说明"
_CHUNK = 2000
_ID_COLUMN = [c.key for c in COLUMNS].index("id_number")


@dataclass
class LedgerExport:
    """A finished export: stream ``chunks`` to the user (or to a file) under ``filename``."""

    filename: str
    content_type: str
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class _Stamp:
    who: str
    when: dt.datetime
    node: str
    unmasked: bool

    @property
    def lines(self) -> list[tuple[str, str]]:
        return [
            ("导出人", self.who),
            ("导出时间", f"{self.when:%Y-%m-%d %H:%M:%S}"),
            ("范围", self.node),
            (
                "内容",
                "完整个人信息（未脱敏），请妥善保管，用完即删"
                if self.unmasked
                else "已脱敏：身份证号和电话已遮盖，出生日期只显示年份",
            ),
        ]


def ledger_export(
    *,
    by: User,
    node: Node,
    file_format: str,
    unmasked: bool = False,
    context: AuditContext | None = None,
) -> LedgerExport:
    """Export the ledger of ``node``'s subtree; every export writes one audit row first.

    Out-of-scope nodes raise ``Node.DoesNotExist`` (answer 404); an unmasked export without the
    reveal permission over the node raises ``PermissionDenied`` and writes nothing. Records of
    children under 14 are left out unless the user may see them (docs/SECURITY-BAR.md §12).
    """
    ratelimit.consume(
        "export.unmasked" if unmasked else "export", by, context=context, audit=unmasked
    )
    if not allowed(by, Action.VIEW, node):
        raise Node.DoesNotExist
    if file_format not in ("xlsx", "csv"):
        raise ValueError(file_format)
    if unmasked and not allowed(by, Action.REVEAL, node):
        raise PermissionDenied(_("Your role may not export full personal data."))
    # Over the whole subtree, or household by household where a role below grants it.
    minors = allowed(by, Action.SEE_MINORS, node)
    households = Household.objects.filter(subtree_q(node.path, "node__path")).count()
    with transaction.atomic():
        audit_record(
            action=AuditAction.PERSONAL_DATA_EXPORT if unmasked else AuditAction.LEDGER_EXPORT,
            user=by,
            context=context,
            obj=node,
            detail={
                "format": file_format,
                "masked": not unmasked,
                "households": households,
                "minors": minors,
            },
        )
    when = timezone.localtime()
    stamp = _Stamp(
        who=f"{by} ({by.username})" if str(by) != by.username else by.username,
        when=when,
        node=node.name,
        unmasked=unmasked,
    )
    rows = ledger_rows(
        node, unmasked=unmasked, minors=minors or (lambda h: allowed(by, Action.SEE_MINORS, h))
    )
    filename = f"台账-{node.name}-{when:%Y%m%d-%H%M}{'-未脱敏' if unmasked else ''}.{file_format}"
    if file_format == "csv":
        return LedgerExport(filename, CSV_TYPE, _csv_chunks(rows, stamp))
    return LedgerExport(filename, XLSX_TYPE, _file_chunks(_write_xlsx(rows, stamp)))


def ledger_rows(
    node: Node, *, unmasked: bool, minors: bool | Callable[[Household], bool]
) -> Iterator[list[Any]]:
    """One list per resident (and one per household without members), template column order.

    ``minors``: whether residents under 14 are written — for every household, or asked of
    each household (the minors permission may hold in some villages of the subtree only)."""
    names = dict(Node.objects.filter(subtree_q(node.path)).values_list("id", "name"))
    names.update(Node.objects.filter(pk__in=node.ancestor_ids).values_list("id", "name"))
    tags: dict[int, list[str]] = defaultdict(list)
    through = Household.tags.through
    for hh_id, tag in (
        through.objects.filter(subtree_q(node.path, "household__node__path"))
        .order_by("householdtag__sort_key", "householdtag__code")
        .values_list("household_id", "householdtag__name")
        .iterator(chunk_size=_CHUNK)
    ):
        tags[hh_id].append(tag)
    households = (
        Household.objects.filter(subtree_q(node.path, "node__path"))
        .select_related("village", "node")
        .order_by("village__path", "number", "id")
    )
    residents = iter(
        Resident.objects.filter(subtree_q(node.path, "household__node__path"))
        .annotate(
            head_first=Case(
                When(relation=Relation.HEAD, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by(
            "household__village__path", "household__number", "household_id", "head_first", "id"
        )
        .iterator(chunk_size=_CHUNK)
    )
    secret = plain if unmasked else _masked
    born = (lambda d: d or "") if unmasked else mask_birth_date
    pending = next(residents, None)
    for household in households.iterator(chunk_size=_CHUNK):
        members: list[Resident] = []
        while pending is not None and pending.household_id == household.pk:
            members.append(pending)
            pending = next(residents, None)
        minors_here = True
        if any(r.is_minor for r in members):
            minors_here = minors(household) if callable(minors) else minors
        # One rule with the page and the API: the children's names masked in the free text.
        shown = HouseholdShown(None, household, members, minors_ok=minors_here)
        ids = [int(p) for p in household.node.path.strip("/").split("/")]
        below = ids[ids.index(household.village_id) + 1 :] if household.village_id in ids else []
        head = [
            household.village.name,
            "/".join(names.get(i, "") for i in below),
            household.number,
            household.head_name,
            shown.field(household, "address"),
            secret(household.phone),
            "、".join(tags.get(household.pk, [])),
            shown.field(household, "income_source"),
        ]
        wrote = False
        for resident in members:
            if shown.restricted(resident):
                continue
            wrote = True
            yield head + [
                resident.name,
                relation_word(resident.relation, resident.sex),
                SEX_WORD.get(resident.sex, ""),
                secret(resident.id_number),
                born(resident.birth_date),
                secret(resident.phone),
                POLITICS_WORD.get(resident.politics, ""),
                shown.field(resident, "education"),
                shown.field(resident, "occupation"),
                "是" if resident.works_away else "否",
                HEALTH_WORD.get(resident.health, ""),
                shown.field(resident, "notes"),
            ]
        if not wrote:
            yield head + [""] * (len(HEADERS) - len(head))


def _masked(value: Sensitive | str | None) -> str:
    return str(value) if value else ""


# --- csv ------------------------------------------------------------------------------------


def _csv_cell(value: Any, column: int) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if text[:1] in ("=", "+", "-", "@"):
        return "'" + text  # never a formula when opened in Excel (CSV injection)
    if column == _ID_COLUMN and text[:17].isdigit():
        return "\t" + text  # Excel would turn 18 digits into 3.41602E+17 and lose the rest
    return text


def _csv_chunks(rows: Iterator[list[Any]], stamp: _Stamp) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel needs the BOM to read UTF-8
    writer.writerow(["# " + "  ".join(f"{k}: {v}" for k, v in stamp.lines)])
    writer.writerow(HEADERS)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_csv_cell(v, i) for i, v in enumerate(row)])
        if n % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


# --- xlsx -----------------------------------------------------------------------------------


def _file_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := fh.read(1 << 16):
            yield chunk
    finally:
        fh.close()


def _text_cell(ws: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text that looks like a formula stays text
    return cell


def _write_xlsx(rows: Iterator[list[Any]], stamp: _Stamp) -> IO[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    workbook.properties.creator = stamp.who
    workbook.properties.title = f"户籍台账 {stamp.node}"
    workbook.properties.description = "  ".join(f"{k}: {v}" for k, v in stamp.lines)
    sheet = workbook.create_sheet(LEDGER_SHEET)
    for i, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = column.width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in HEADERS:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        sheet.append(
            [_text_cell(sheet, v) if isinstance(v, str) and v.startswith("=") else v for v in row]
        )
        count += 1
    note = workbook.create_sheet(NOTE_SHEET)
    note.column_dimensions["A"].width = 12
    note.column_dimensions["B"].width = 60
    for key, value in [*stamp.lines, ("行数", str(count))]:
        note.append([_text_cell(note, key), _text_cell(note, value)])
    fh = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _file_chunks
    workbook.save(fh)
    fh.seek(0)
    return fh


# --- template -------------------------------------------------------------------------------

_INSTRUCTIONS = [
    "每行填写一名家庭成员；同一户的各行填写相同的“村/社区”和“户编号”。",
    "户主姓名、家庭住址、家庭联系电话、重点户标签、主要收入来源、组/网格是户的信息，"
    "可只在户主行填写，也可合并单元格。",
    "每户须有一行“与户主关系”为“户主”。",
    "身份证号、电话和户编号请设为文本格式，否则 Excel 会丢失身份证号的末几位和户编号开头的 0。",
    "出生日期和性别可留空，由身份证号自动得出；填写时须与身份证号一致。",
    "新户的组/网格留空表示直接属于村/社区；同名时写路径，如“一片/一组”。",
    "重点户标签有多个时用“、”或“,”分隔。",
    "空白单元格不会清除系统中已有的内容；导入不会删除任何人员。",
    "同一文件可以重复导入：已有的户按“村/社区+户编号”、人员按身份证号（无身份证号时按姓名）更新。",
]


def ledger_template(node: Node | None = None) -> bytes:
    """The blank ledger: Chinese header row, and an instruction sheet with accepted values."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = LEDGER_SHEET
    sheet.append(HEADERS)
    fill = PatternFill("solid", fgColor="FBEAE9")
    for i, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = column.width
        if column.text:
            sheet.column_dimensions[letter].number_format = "@"
        cell = sheet.cell(row=1, column=i)
        cell.font, cell.fill = Font(bold=True), fill
    sheet.freeze_panes = "A2"
    headers = {c.header: get_column_letter(i) for i, c in enumerate(COLUMNS, start=1)}
    for header, words in accepted_values().items():
        # A drop-down as a hint only: synonyms typed by hand stay allowed.
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(words) + '"',
            allow_blank=True,
            showErrorMessage=False,
        )
        validation.add(f"{headers[header]}2:{headers[header]}5000")
        sheet.add_data_validation(validation)

    guide = workbook.create_sheet("填写说明")
    guide.column_dimensions["A"].width = 16
    guide.column_dimensions["B"].width = 90
    guide.append(["填写说明"])
    guide["A1"].font = Font(bold=True, size=14)
    for n, line in enumerate(_INSTRUCTIONS, start=1):
        guide.append([str(n), line])
    guide.append([])
    guide.append(["列", "可填写的值"])
    for header, words in accepted_values().items():
        guide.append([header, "、".join(words)])
    guide.append(["重点户标签", "、".join(HouseholdTag.objects.values_list("name", flat=True))])
    if node is not None:
        guide.append([])
        guide.append(["村/社区", "组/网格"])
        villages = (
            [node]
            if node.level == Level.VILLAGE
            else Node.objects.subtree(node).filter(level=Level.VILLAGE).order_by("path")
        )
        for village in villages:
            children = village.children.order_by("sort_key", "name").values_list("name", flat=True)
            guide.append([village.name, "、".join(children)])
    guide.append([])
    guide.append(["示例（请填写在“台账”工作表）"])
    guide.append(HEADERS)
    born = dt.date(1975, 6, 18)
    guide.append(
        [
            "王庄村",
            "一组",
            "A001",
            "张建华",
            "王庄村一组8号",
            "13800000000",
            "脱贫户、务工户",
            "务农",
            "张建华",
            "户主",
            "男",
            make_id_number("341602", born, 3, "M"),
            born.isoformat(),
            "13800000000",
            "中共党员",
            "初中",
            "农民",
            "否",
            "健康",
            "",
        ]
    )
    for row in guide.iter_rows(min_row=2, max_col=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
