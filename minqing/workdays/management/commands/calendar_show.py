"""``minqing calendar_show YEAR``: the year's status, days off and make-up working days."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from minqing.workdays.calendar import ANNOUNCED, ENTERED, MAX_YEAR, MIN_YEAR
from minqing.workdays.selectors import OFF, year_overview

STATUS = {
    ANNOUNCED: "announced (the State Council's schedule is built in)",
    ENTERED: "entered by the county",
}
UNKNOWN_STATUS = (
    "UNKNOWN: the official schedule is not known yet; deadlines cannot run into this year "
    "until it is entered. The days below are an estimate."
)


class Command(BaseCommand):
    help = "Print the days off and make-up working days of YEAR, and whether YEAR is known."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("year", type=int)
        parser.add_argument(
            "--language", default="zh-hans", help="language of holiday names (zh-hans or en)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"]
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise CommandError(f"YEAR must be between {MIN_YEAR} and {MAX_YEAR}.")
        with translation.override(options["language"]):
            overview = year_overview(year)
            status = STATUS.get(overview.status, UNKNOWN_STATUS)
            if overview.entered is not None:
                entered = overview.entered
                status += f" — entered by {entered.entered_by or '?'} on "
                status += f"{entered.entered_at:%Y-%m-%d}"
                status += f" ({entered.note})" if entered.note else ""
            self.stdout.write(f"{year}: {status}")
            off = [d for d in overview.special_days if not d.is_workday]
            work = [d for d in overview.special_days if d.is_workday]
            self.stdout.write(f"Days off ({len(off)}):")
            for d in off:
                self.stdout.write(self._line(d))
            self.stdout.write(f"Make-up working days and other working days set ({len(work)}):")
            for d in work:
                self.stdout.write(self._line(d))

    @staticmethod
    def _line(d: Any) -> str:
        source = "county" if d.county is not None else "official"
        kind = "weekend" if d.kind != OFF and not d.is_workday else ""
        name = d.name or kind
        return f"  {d.date:%Y-%m-%d} {d.date:%a}  {name}  [{source}]".rstrip()
