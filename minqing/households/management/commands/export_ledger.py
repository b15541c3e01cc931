"""``minqing export_ledger --node N --user U --out FILE [--unmasked]``: write a node's ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from minqing.households.ledger.exporter import ledger_export
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Node


class Command(BaseCommand):
    help = (
        "Export the household ledger of a node's subtree to FILE (.xlsx or .csv), acting as "
        "USER. Masked unless --unmasked (needs the reveal permission; audited)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--node", type=int, required=True)
        parser.add_argument("--user", required=True, help="username to act as")
        parser.add_argument("--out", required=True, help="file to write, ending in .xlsx or .csv")
        parser.add_argument(
            "--unmasked",
            action="store_true",
            help="full ID numbers and phones (audited as personal_data.export)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        file_format = out.suffix.lower().lstrip(".")
        if file_format not in ("xlsx", "csv"):
            raise CommandError("--out must end in .xlsx or .csv")
        try:
            user = get_user_model().objects.get(username=options["user"], is_active=True)
            node = Node.objects.get(pk=options["node"])
        except (get_user_model().DoesNotExist, Node.DoesNotExist):
            raise CommandError("No such active user or node.") from None
        try:
            result = ledger_export(
                by=user, node=node, file_format=file_format, unmasked=options["unmasked"]
            )
        except (Node.DoesNotExist, PermissionDenied):
            raise CommandError(f"{user.username} may not export this ledger.") from None
        size = 0
        with out.open("wb") as fh:
            for chunk in result.chunks:
                fh.write(chunk)
                size += len(chunk)
        self.stdout.write(self.style.SUCCESS(f"Wrote {size} bytes to {out}."))
