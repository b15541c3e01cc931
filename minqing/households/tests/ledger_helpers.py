"""Building ledger files for the ledger tests: a generated 1,000-row ledger with known bad rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from openpyxl import Workbook

from minqing.households.ledger.columns import HEADERS
from minqing.lib.idcard import make_id_number

COL = {h: i for i, h in enumerate(HEADERS)}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "明辉", "丽娟", "国庆", "玉梅", "春生"]
MEMBERS = [("户主", "M"), ("配偶", "F"), ("子", "M"), ("女", "F"), ("母亲", "F")]


def xlsx_bytes(
    rows: list[list], headers: list[str] | None = None, before: list[list] | None = None
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "台账"
    for row in before or []:
        sheet.append(row)
    sheet.append(headers or HEADERS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(
    rows: list[list], headers: list[str] | None = None, encoding: str = "utf-8-sig"
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers or HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


@dataclass
class Ledger:
    """Rows (without header) and, per household number, the 0-based indexes of its rows."""

    rows: list[list] = field(default_factory=list)
    households: dict[str, list[int]] = field(default_factory=dict)

    def sheet_row(self, index: int) -> int:
        """The spreadsheet row number of data row ``index`` (header = row 1)."""
        return index + 2

    def household_of(self, index: int) -> str:
        return next(n for n, idx in self.households.items() if index in idx)


def make_ledger(
    total_rows: int = 1000,
    village: str = "王庄村",
    grids: tuple[str, ...] = ("一组", "二组"),
    prefix: str = "L",
    day_step: int = 13,
    region: str = "341602",
) -> Ledger:
    """Households of 1–5 members; even households repeat household cells on every row, odd ones
    fill them on the 户主 row only (as ledgers with merged cells read)."""
    ledger = Ledger()
    person = 0
    h = 0
    while len(ledger.rows) < total_rows:
        size = min(1 + h % 5, total_rows - len(ledger.rows))
        number = f"{prefix}{h + 1:04d}"
        surname = SURNAMES[h % len(SURNAMES)]
        head_name = f"{surname}{GIVEN[h % len(GIVEN)]}{h}"
        address = f"{village}{grids[h % len(grids)]}{h + 1}号"
        tags = "脱贫户、务工户" if h % 7 == 0 else ""
        indexes = []
        for k in range(size):
            relation, sex = MEMBERS[k]
            born = dt.date(1940, 1, 1) + dt.timedelta(days=person * day_step)
            name = head_name if k == 0 else f"{surname}{GIVEN[(h + k) % len(GIVEN)]}{h}{k}"
            id_number = make_id_number(region, born, person, sex)
            household_cells = k == 0 or h % 2 == 0
            ledger.rows.append(
                [
                    village,
                    grids[h % len(grids)] if household_cells else "",
                    number,
                    head_name if household_cells else "",
                    address if household_cells else "",
                    f"135{h:08d}" if household_cells else "",
                    tags if household_cells else "",
                    "务农" if household_cells else "",
                    name,
                    relation,
                    "男" if sex == "M" else "女",
                    id_number,
                    born.isoformat() if person % 2 else "",
                    f"139{person:08d}",
                    "中共党员" if person % 9 == 0 else "群众",
                    "初中",
                    "农民",
                    "是" if person % 4 == 0 else "否",
                    "健康",
                    "",
                ]
            )
            indexes.append(len(ledger.rows) - 1)
            person += 1
        ledger.households[number] = indexes
        h += 1
    return ledger
