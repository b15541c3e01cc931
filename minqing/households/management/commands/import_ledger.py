"""``minqing import_ledger FILE --node N --user U [--valid-only]``: check and import a ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from minqing.households.ledger.importer import ImportRefused, ledger_check, ledger_import
from minqing.households.ledger.reader import LedgerFileError
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Node


class Command(BaseCommand):
    help = (
        "Check a household ledger (.xlsx or .csv) and import it into a village or town, "
        "acting as USER (whose scope and roles apply). Prints the row-level report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--node", type=int, required=True, help="id of the village or town")
        parser.add_argument("--user", required=True, help="username to act as")
        parser.add_argument(
            "--valid-only",
            action="store_true",
            help="import the households without errors, skip the others",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = get_user_model().objects.get(username=options["user"], is_active=True)
            node = Node.objects.get(pk=options["node"])
        except (get_user_model().DoesNotExist, Node.DoesNotExist):
            raise CommandError("No such active user or node.") from None
        path = Path(options["file"])
        try:
            data = path.read_bytes()
            checked = ledger_check(by=user, node=node, filename=path.name, data=data)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        except LedgerFileError as exc:
            raise CommandError(exc.message) from None
        except (Node.DoesNotExist, PermissionDenied):
            raise CommandError(f"{user.username} may not import into node {node.pk}.") from None
        report = checked.report
        self.stdout.write(
            f"{path.name}: {report['rows']} rows, {report['households']} "
            f"households, {len(report['errors'])} errors in {report['bad_rows']} "
            f"rows (check #{checked.pk})."
        )
        for error in report["errors"]:
            self.stdout.write(f"  row {error['row']}, {error['column'] or '-'}: {error['message']}")
        try:
            done = ledger_import(by=user, ledger_import=checked, valid_only=options["valid_only"])
        except ImportRefused as exc:
            raise CommandError(exc.message) from None
        result = done.report["result"]
        self.stdout.write(
            self.style.SUCCESS(
                "Imported in {s}s. Households: {h[create]} created, {h[update]} updated, "
                "{h[unchanged]} unchanged. Residents: {r[create]} created, {r[update]} updated, "
                "{r[unchanged]} unchanged.".format(
                    s=result["seconds"], h=result["households"], r=result["residents"]
                )
            )
        )
        if done.valid_only and report["skipped_households"]:
            self.stdout.write(
                f"Skipped {report['skipped_households']} households "
                f"({report['skipped_rows']} rows) with errors."
            )
