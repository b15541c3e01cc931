"""``minqing import_xlsform PATH --department CODE [--user U] [--county CODE]``: a department's
checklist from an XLSForm file (.xlsx, .xls, .csv, .md); prints the new checklist's id.

Refused forms print every refusal with its sheet, row and column and exit non-zero, saving
nothing. The checklist is written as USER (``--user``, else ``$MINQING_USER``), who must be
allowed to edit the department's checklists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Department


def acting_user(options: dict[str, Any]) -> Any:
    name = options.get("user") or os.environ.get("MINQING_USER", "")
    if not name:
        raise CommandError("Say who acts: --user USERNAME (or MINQING_USER).")
    try:
        return get_user_model().objects.get(username=name, is_active=True)
    except get_user_model().DoesNotExist as exc:
        raise CommandError(f"No active user {name!r}.") from exc


def department_by_code(code: str, county_code: str = "") -> Department:
    qs = Department.objects.filter(code=code)
    if county_code:
        qs = qs.filter(county__code=county_code)
    found = list(qs[:2])
    if not found:
        raise CommandError(f"No department with code {code!r}.")
    if len(found) > 1:
        raise CommandError(f"Several counties have a department {code!r}: add --county CODE.")
    return found[0]


class Command(BaseCommand):
    help = "Import a department's checklist from an XLSForm file; prints the checklist's id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--department", required=True, help="the department's code")
        parser.add_argument("--county", default="", help="the county's code, if codes repeat")
        parser.add_argument("--user", default="", help="username to act as")

    def handle(self, *args: Any, **options: Any) -> None:
        from minqing.menus.services.authoring import checklist_import
        from minqing.menus.xlsform import XLSFormRefused

        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        user = acting_user(options)
        department = department_by_code(options["department"], options["county"])
        try:
            imported = checklist_import(
                by=user,
                department=department,
                source=path.read_bytes(),
                filename=path.name,
                context=AuditContext(via="cli"),
            )
        except XLSFormRefused as exc:
            for refusal in exc.refusals:
                self.stderr.write(str(refusal))
            raise CommandError(f"{len(exc.refusals)} problem(s): nothing was imported.") from exc
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.stderr.write(f"{field}: {message}")
            raise CommandError("Nothing was imported.") from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        for notice in imported.notices:
            self.stderr.write(f"not imported: {notice}")
        self.stdout.write(str(imported.checklist.pk))
