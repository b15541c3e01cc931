"""Ledger import as users do it: check a file (kept, with its report), then import it.

``ledger_check`` reads and checks an upload, stores it sealed and records a ``LedgerImport``
with the full report; it changes no archive. ``ledger_import`` re-reads that very file, checks it
again against the archive as it is now, and imports it in one transaction: everything, or — when
the user chose "valid rows only" — every household none of whose rows has an error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import PurePath
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import ARCHIVE_EDIT_ROLES
from minqing.accounts.scope import scope_for
from minqing.households.ledger import storage
from minqing.households.ledger.planner import Plan, plan_ledger
from minqing.households.ledger.reader import LedgerFileError, LedgerTable, check_upload, read_ledger
from minqing.households.models import LedgerImport
from minqing.households.services_bulk import households_import
from minqing.lib.crypto import KeyringError
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node

#: Levels a ledger may be imported into: a village, or anything holding villages.
IMPORT_LEVELS = frozenset({Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN, Level.VILLAGE})


class ImportRefused(Exception):
    """The import did not run (errors in the file, already imported…); ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def require_import(by: Any, node: Node) -> None:
    """Out of scope → ``Node.DoesNotExist`` (404); in scope without the edit role → 403."""
    scope = scope_for(by)
    if not scope.covers_path(node.path):
        raise Node.DoesNotExist
    if not scope.covers_path(node.path, roles=ARCHIVE_EDIT_ROLES):
        raise PermissionDenied(_("Your role may not import household ledgers."))


def _report(table: LedgerTable, plan: Plan, counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "file_format": table.file_format,
        "sheet": table.sheet,
        "header_row": table.header_row,
        "ignored_columns": table.ignored,
        **plan.summary(),
        "errors": [e.as_dict() for e in plan.errors],
        "plan": counts,
    }


def _check(by: Any, node: Node, table: LedgerTable, today: dt.date | None) -> tuple[Plan, dict]:
    plan = plan_ledger(table, target=node, today=today)
    counts = households_import(by=by, target=node, items=plan.items, dry_run=True)
    return plan, _report(table, plan, counts.as_dict())


def ledger_check(
    *, by: Any, node: Node, filename: str, data: bytes, today: dt.date | None = None
) -> LedgerImport:
    """Check an uploaded ledger and keep it with its report; changes no archive.

    A file that cannot be read at all raises ``LedgerFileError`` and nothing is stored.
    """
    require_import(by, node)
    if node.level not in IMPORT_LEVELS:
        raise LedgerFileError(
            _("Import into a village/community or a town, not into a group/grid.")
        )
    file_format = check_upload(filename, len(data))
    table = read_ledger(data, file_format)
    _plan, report = _check(by, node, table, today)
    stored = storage.store(data, file_format)
    try:
        return LedgerImport.objects.create(
            user=by,
            node=node,
            original_name=PurePath(filename).name[:255] or "ledger",
            stored_path=stored,
            file_format=file_format,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            report=report,
        )
    except Exception:
        storage.remove(stored)
        raise


def ledger_import(
    *,
    by: Any,
    ledger_import: LedgerImport,
    valid_only: bool = False,
    request: Any = None,
    today: dt.date | None = None,
) -> LedgerImport:
    """Import a checked ledger, all-or-nothing; ``valid_only`` skips households with errors.

    Raises ``ImportRefused`` (nothing imported) when the file still has errors and
    ``valid_only`` is false, when no row is valid, or when it was imported already.
    """
    if ledger_import.user_id != by.pk:
        raise LedgerImport.DoesNotExist
    node = ledger_import.node
    require_import(by, node)
    try:
        data = storage.load(ledger_import.stored_path)
    except (OSError, ValueError, KeyringError):
        raise ImportRefused(
            _("The uploaded file is no longer available; upload it again.")
        ) from None
    table = read_ledger(data, ledger_import.file_format)
    started = time.monotonic()
    refused: ImportRefused | None = None
    try:
        with transaction.atomic():
            locked = LedgerImport.objects.select_for_update().get(pk=ledger_import.pk)
            if not locked.can_import:
                raise ImportRefused(_("This file has been imported already."))
            plan = plan_ledger(table, target=node, today=today)
            report = _report(table, plan, {})
            if plan.errors and not valid_only:
                refused = ImportRefused(
                    _(
                        "The file has errors, so nothing was imported. Correct "
                        "them and upload the file again, or import the valid "
                        "rows only."
                    )
                )
            elif not plan.items:
                refused = ImportRefused(
                    _("No household in the file is free of errors; nothing was imported.")
                )
            if refused is not None:
                report["plan"] = households_import(
                    by=by, target=node, items=plan.items, dry_run=True
                ).as_dict()
                locked.report = report
                locked.save(update_fields=["report"])
            else:
                counts = households_import(
                    by=by,
                    target=node,
                    items=plan.items,
                    request=request,
                    detail={
                        "ledger_import": locked.pk,
                        "file": locked.original_name,
                        "valid_only": valid_only,
                        "rows": plan.rows,
                        "skipped_households": plan.skipped_households,
                        "errors": len(plan.errors),
                    },
                )
                report["plan"] = counts.as_dict()
                report["result"] = {
                    **counts.as_dict(),
                    "seconds": round(time.monotonic() - started, 2),
                }
                locked.report = report
                locked.status = LedgerImport.Status.IMPORTED
                locked.valid_only = valid_only
                locked.finished_at = timezone.now()
                locked.save(update_fields=["report", "status", "valid_only", "finished_at"])
    except IntegrityError:
        # Someone changed the same records meanwhile; the transaction rolled back entirely.
        LedgerImport.objects.filter(pk=ledger_import.pk).update(
            status=LedgerImport.Status.FAILED, finished_at=timezone.now()
        )
        raise ImportRefused(
            _(
                "The archive changed during the import, so nothing was imported. "
                "Upload the file again to check it."
            )
        ) from None
    if refused is not None:
        raise refused
    return locked
