"""``minqing calendar_set DATE workday|off|clear [--name N] --user USERNAME``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from minqing.lib.errors import PermissionDenied
from minqing.workdays.services import calendar_day_clear, calendar_day_set


class Command(BaseCommand):
    help = (
        "Declare DATE (YYYY-MM-DD) a working day or a day off for the county, or clear the "
        "county's entry so the official schedule applies again; acting as USER."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("date")
        parser.add_argument("state", choices=["workday", "off", "clear"])
        parser.add_argument("--name", default="", help="e.g. 国庆节 or 国庆节调休上班")
        parser.add_argument("--user", required=True, help="username to act as")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            date = dt.date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(f"Not a date (YYYY-MM-DD): {options['date']}") from None
        try:
            user = get_user_model().objects.get(username=options["user"], is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError("No such active user.") from None
        try:
            if options["state"] == "clear":
                calendar_day_clear(by=user, date=date)
                self.stdout.write(self.style.SUCCESS(f"{date}: county entry removed."))
                return
            day = calendar_day_set(
                by=user,
                date=date,
                is_workday=options["state"] == "workday",
                name=options["name"],
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        state = "a working day" if day.is_workday else "a day off"
        self.stdout.write(self.style.SUCCESS(f"{day.date}: now {state}."))
