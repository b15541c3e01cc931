"""``minqing calendar_year_entered YEAR --user USERNAME [--note N]``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from minqing.lib.errors import PermissionDenied
from minqing.workdays.services import calendar_year_mark_entered


class Command(BaseCommand):
    help = (
        "Mark YEAR's official holiday schedule as entered (after its days off and make-up "
        "working days are set with calendar_set), so deadlines may run into it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("year", type=int)
        parser.add_argument("--note", default="", help="e.g. the State Council notice")
        parser.add_argument("--user", required=True, help="username to act as")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = get_user_model().objects.get(username=options["user"], is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError("No such active user.") from None
        try:
            entry = calendar_year_mark_entered(by=user, year=options["year"], note=options["note"])
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"{entry.year}: marked entered."))
