"""Reading an uploaded ledger (.xlsx or .csv) into rows of text, checking the file on the way.

Nothing here knows about the database: the reader finds the header row, maps the columns,
undoes what spreadsheets do to cells (numbers for ID numbers, merged household cells, dates) and
hands the planner one ``LedgerRow`` per resident with the row number the user sees.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.households.ledger.columns import COLUMN_BY_KEY, column_key

FORMATS = ("xlsx", "csv")
#: Data rows per file; a bigger ledger should be split (by village) to keep imports short.
MAX_ROWS = 100_000
#: How far down a title block may push the header row.
HEADER_SEARCH_ROWS = 20
#: Columns a ledger sheet may use (the template has about 30): a stray cell in column XFD made
#: every row 16,384 cells wide, and a 51 KB file took 750 MB to read.
MAX_COLUMNS = 200
#: Rows a sheet may reach, blank ones included (a stray cell at row 1,048,576 is not a ledger).
MAX_SHEET_ROWS = 2 * MAX_ROWS
#: A workbook's parts: how many, and how much one may unpack to per compressed byte (zip bomb).
MAX_ARCHIVE_MEMBERS = 1000
MAX_COMPRESSION_RATIO = 200
_INJECTION_QUOTE = re.compile(r"^'(?=[=+\-@])")
_MERGE_RE = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]+)(\d+):([A-Z]+)(\d+)\"")
#: A cell's reference (``<c r="XFD6000"``): the sheet's real extent, whatever its dimension says.
_CELL_RE = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]{1,3})(\d+)\"")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"))


class LedgerFileError(Exception):
    """The file cannot be read as a ledger at all; ``message`` says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RowError:
    """One problem: spreadsheet row (header = row 1 in the template), column header, reason."""

    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class LedgerRow:
    """One resident row: cell text by column key (a date for dates Excel stored as dates)."""

    number: int
    cells: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)

    def text(self, key: str) -> str:
        value = self.cells.get(key, "")
        return value if isinstance(value, str) else str(value)


@dataclass
class LedgerTable:
    """The rows of a ledger plus what the reader learnt about its layout."""

    file_format: str
    sheet: str
    header_row: int
    headers: dict[str, str]  # column key → header as written in the file
    ignored: list[str]
    rows: list[LedgerRow]
    errors: list[RowError] = field(default_factory=list)

    def header(self, key: str) -> str:
        return self.headers.get(key) or COLUMN_BY_KEY[key].header


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.3g} MB" if n >= 1024 * 1024 else f"{n / 1024:.3g} KB"


def check_upload(filename: str, size: int) -> str:
    """The file's format from its name, after the size check; raises ``LedgerFileError``."""
    limit = settings.LEDGER_MAX_UPLOAD_BYTES
    if size > limit:
        raise LedgerFileError(
            _("The file is larger than %(size)s. Split it, e.g. by village.")
            % {"size": _size(limit)}
        )
    if size == 0:
        raise LedgerFileError(_("The file is empty."))
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    if suffix == "xls":
        raise LedgerFileError(
            _(
                "Old .xls files cannot be read. Save the file as .xlsx (Excel "
                "workbook) or .csv and upload it again."
            )
        )
    if suffix not in FORMATS:
        raise LedgerFileError(_("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."))
    return suffix


def read_ledger(data: bytes, file_format: str) -> LedgerTable:
    """Parse the file; the content must match the format the name claims."""
    if file_format == "xlsx":
        return _read_xlsx(data)
    if file_format == "csv":
        return _read_csv(data)
    raise LedgerFileError(_("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."))


# --- cells ----------------------------------------------------------------------------------


def _cell(key: str, value: Any, problems: dict[str, str]) -> Any:
    """Spreadsheet cell → text (or a date for the birth date), noting what cannot be trusted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date() if key == "birth_date" else value.date().isoformat()
    if isinstance(value, dt.date):
        return value if key == "birth_date" else value.isoformat()
    if isinstance(value, float):
        if key == "id_number" and abs(value) >= 1e15:
            # Excel keeps 15 significant digits: the last digits of this ID are already gone.
            problems[key] = _(
                "The ID number was stored as a number and Excel dropped its last "
                "digits. Format the column as text and type the number again."
            )
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, int):
        return str(value)
    text = str(value).translate(_INVISIBLE).strip()
    return _INJECTION_QUOTE.sub("", text)


def _header_map(
    values: Iterable[Any],
) -> tuple[dict[int, str], dict[str, str], list[str], list[str]]:
    """(column index → key, key → header text, ignored headers, duplicate headers)."""
    index: dict[int, str] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    duplicates: list[str] = []
    for i, value in enumerate(values):
        text = str(value).strip() if value is not None else ""
        if not text:
            continue
        key = column_key(text)
        if key is None:
            ignored.append(text)
        elif key in headers:
            duplicates.append(text)
        else:
            index[i] = key
            headers[key] = text
    return index, headers, ignored, duplicates


def _is_header(index: dict[int, str]) -> bool:
    keys = set(index.values())
    return "name" in keys and len(keys) >= 3


def _table(
    file_format: str, sheet: str, numbered: Iterator[tuple[int, list[Any]]]
) -> LedgerTable | None:
    """Find the header among the first rows, then turn every later row into a ``LedgerRow``."""
    for number, values in numbered:
        if number > HEADER_SEARCH_ROWS:
            return None
        index, headers, ignored, duplicates = _header_map(values)
        if _is_header(index):
            break
    else:
        return None
    table = LedgerTable(
        file_format=file_format,
        sheet=sheet,
        header_row=number,
        headers=headers,
        ignored=ignored,
        rows=[],
    )
    for text in duplicates:
        table.errors.append(
            RowError(number, text, _("Two columns hold the same data; keep one of them."))
        )
    for number, values in numbered:
        problems: dict[str, str] = {}
        cells = {
            key: _cell(key, values[i] if i < len(values) else None, problems)
            for i, key in index.items()
        }
        if not any(v != "" for v in cells.values()) and not problems:
            continue
        first = next((v for v in cells.values() if v != ""), "")
        if isinstance(first, str) and first.startswith("#"):
            continue  # a comment line, e.g. the "导出人 … 导出时间 …" line of an export
        if cells.get("name") == headers["name"]:
            continue  # a header repeated on every printed page
        if len(table.rows) >= MAX_ROWS:
            raise LedgerFileError(
                _("The file has more than %(n)d rows. Split it, e.g. by village.") % {"n": MAX_ROWS}
            )
        table.rows.append(LedgerRow(number, cells, problems))
    return table


_NO_HEADER = gettext_lazy(
    "No header row found. The first rows must name the columns, such as 姓名, "
    "户编号 and 身份证号; download the template to see them."
)


# --- xlsx -----------------------------------------------------------------------------------


def _column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1


def _column_letters(index: int) -> str:
    """0-based column index → its letters (``0`` → ``A``, ``16383`` → ``XFD``)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _too_wide(column: int) -> LedgerFileError:
    return LedgerFileError(
        _(
            "The sheet has cells as far right as column %(column)s; a ledger may use at most "
            "%(n)d columns (up to column %(last)s). Delete the columns to the right of the "
            "table in Excel or WPS, save and upload again."
        )
        % {
            "column": _column_letters(column),
            "n": MAX_COLUMNS,
            "last": _column_letters(MAX_COLUMNS - 1),
        }
    )


def _too_long(row: int) -> LedgerFileError:
    return LedgerFileError(
        _(
            "The sheet has cells as far down as row %(row)d; a ledger sheet may reach at most "
            "row %(n)d. Delete the rows below the table, or split the file by village."
        )
        % {"row": row, "n": MAX_SHEET_ROWS}
    )


def _scan_sheet(archive: zipfile.ZipFile, sheet_path: str | None) -> list[tuple[int, ...]]:
    """Merged cell ranges (0-based columns, 1-based rows) of one sheet, refusing a sheet whose
    cells reach past ``MAX_COLUMNS`` or ``MAX_SHEET_ROWS`` before openpyxl reads a row of it.

    Ledgers merge the household cells over the household's rows; read-only openpyxl does not
    report merges, so scan the sheet XML for them (no XML parser: nothing is expanded).
    """
    if not sheet_path:
        return []
    ranges = []
    tail = b""
    with archive.open(sheet_path.lstrip("/")) as stream:
        while chunk := stream.read(1 << 20):
            buf = tail + chunk
            for m in _CELL_RE.finditer(buf):
                if (column := _column_index(m[1])) >= MAX_COLUMNS:
                    raise _too_wide(column)
                if (row := int(m[2])) > MAX_SHEET_ROWS:
                    raise _too_long(row)
            for m in _MERGE_RE.finditer(buf):
                merge = (_column_index(m[1]), int(m[2]), _column_index(m[3]), int(m[4]))
                if max(merge[0], merge[2]) >= MAX_COLUMNS:
                    raise _too_wide(max(merge[0], merge[2]))
                if max(merge[1], merge[3]) > MAX_SHEET_ROWS:
                    raise _too_long(max(merge[1], merge[3]))
                ranges.append(merge)
            cut = buf.rfind(b"<")
            tail = buf[cut:] if cut >= 0 and len(buf) - cut < 200 else b""
    return sorted(set(ranges))


def _rows_with_merges(rows: list[list[Any]], merges: list[tuple[int, ...]]) -> None:
    """Copy each merged range's value into all its cells (rows are 1-based)."""
    for col0, row0, col1, row1 in merges:
        if row0 > len(rows):
            continue
        source = rows[row0 - 1]
        value = source[col0] if col0 < len(source) else None
        for r in range(row0, min(row1, len(rows)) + 1):
            row = rows[r - 1]
            for c in range(col0, col1 + 1):
                if c >= len(row):
                    row.extend([None] * (c + 1 - len(row)))
                row[c] = value


def _sheet_rows(sheet: Any) -> list[list[Any]]:
    """All rows as lists (blank rows as empty lists), refusing oversized sheets early.

    Rows are cut at ``MAX_COLUMNS + 1`` cells and reading stops past ``MAX_SHEET_ROWS``, so
    memory stays bounded even for cells the XML scan could not place (no ``r`` attribute).
    """
    rows: list[list[Any]] = []
    filled = 0
    for number, values in enumerate(
        sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1, max_row=MAX_SHEET_ROWS + 1),
        start=1,
    ):
        if number > MAX_SHEET_ROWS:
            raise _too_long(number)
        if len(values) > MAX_COLUMNS and values[MAX_COLUMNS] is not None:
            raise _too_wide(MAX_COLUMNS)
        width = min(len(values), MAX_COLUMNS)
        while width and values[width - 1] is None:
            width -= 1  # openpyxl pads every row to the widest one
        if width:
            filled += 1
            if filled > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise LedgerFileError(
                    _("The file has more than %(n)d rows. Split it, e.g. by village.")
                    % {"n": MAX_ROWS}
                )
            rows.append(list(values[:width]))
        else:
            rows.append([])
    return rows


def _read_xlsx(data: bytes) -> LedgerTable:
    from openpyxl import load_workbook

    bad = _(
        "The file is not a valid Excel workbook (.xlsx). Open it in Excel or WPS and save "
        "it as .xlsx again."
    )
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise LedgerFileError(bad)
    try:
        archive = zipfile.ZipFile(buffer)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise LedgerFileError(bad) from None
    # Declared sizes bound what zipfile will unpack (it stops at file_size), so checking them
    # here bounds every later read (zip bombs).
    unpacked = sum(info.file_size for info in members)
    packed_too_tight = any(
        info.file_size > (1 << 20) and info.file_size > MAX_COMPRESSION_RATIO * info.compress_size
        for info in members
    )
    if (
        len(members) > MAX_ARCHIVE_MEMBERS
        or packed_too_tight
        or unpacked > 10 * max(settings.LEDGER_MAX_UPLOAD_BYTES, 1 << 20)
    ):
        raise LedgerFileError(_("The workbook unpacks to an unreasonable size; it cannot be read."))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for damaged files
        raise LedgerFileError(bad) from None
    try:
        for sheet in workbook.worksheets:
            if not hasattr(sheet, "iter_rows"):
                continue  # chart sheets
            merges = _scan_sheet(archive, getattr(sheet, "_worksheet_path", None))
            sheet.reset_dimensions()  # some writers record a wrong size; read every row
            rows = _sheet_rows(sheet)
            _rows_with_merges(rows, merges)
            table = _table("xlsx", sheet.title, iter(enumerate(rows, start=1)))
            if table is not None:
                return table
    except LedgerFileError:
        raise
    except Exception:
        raise LedgerFileError(bad) from None
    finally:
        workbook.close()
    raise LedgerFileError(str(_NO_HEADER))


# --- csv ------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if b"\x00" in data[:65536] or data.startswith(b"PK\x03\x04"):
        raise LedgerFileError(
            _("The file is not a CSV text file. Excel workbooks must end in .xlsx.")
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise LedgerFileError(
            _(
                "The CSV file is neither UTF-8 nor GBK/GB18030 text. Save it "
                "from Excel as “CSV UTF-8”."
            )
        ) from None


def _read_csv(data: bytes) -> LedgerTable:
    text = _decode(data)
    first = next(
        (line for line in text.splitlines() if line.strip() and not line.startswith("#")), ""
    )
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise LedgerFileError(_("The CSV file is malformed (check its quotes).")) from None
    table = _table("csv", "", iter(enumerate(records, start=1)))
    if table is None:
        raise LedgerFileError(str(_NO_HEADER))
    return table
