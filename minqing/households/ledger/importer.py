"""Ledger import as users do it: check a file (kept, with its report), then import it.

``ledger_check`` reads and checks an upload, stores it sealed and records a ``LedgerImport``
with the full report; it changes no archive. ``ledger_import`` re-reads that very file, checks it
again against the archive as it is now, and imports everything, or — when the user chose "valid
rows only" — every household none of whose rows has an error.

The write is cut into short transactions (batches of whole households, sized to hold the lock
about ``BATCH_TARGET_S``) with a pause between them: on SQLite the database has one writer at a
time, and a town's ledger written in one transaction held it for half a minute, so other users'
logins and visits failed with "database is locked". All-or-nothing is kept another way: the
whole file is checked before the first batch is written (a file with errors writes nothing unless
the user chose "valid rows only"), and every batch checks its rows again against the archive in
its own transaction.
If a batch cannot be written (the archive changed meanwhile, the server stopped), the batches
before it stay, the record's ``report["progress"]`` says how far the import got, and pressing
"import" again continues: households already written are found and updated, never duplicated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from pathlib import PurePath
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.permissions import Action, allowed
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
    if not allowed(by, Action.VIEW, node):
        raise Node.DoesNotExist
    if not allowed(by, Action.EDIT_ARCHIVE, node):
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


#: How long one batch may hold the write lock: a request that waits behind a batch waits about
#: this long, not half a minute. Each batch is sized from the last one's pace (whole households,
#: ``BATCH_ROWS`` rows to begin with, between ``BATCH_MIN_ROWS`` and ``BATCH_MAX_ROWS``), so a
#: slow or busy machine writes smaller batches rather than longer ones.
BATCH_TARGET_S = 0.25
BATCH_ROWS = 100
BATCH_MIN_ROWS = 20
BATCH_MAX_ROWS = 1000
#: Pause between batches, at least as long as the batch before it (the import takes at most half
#: the write lock's time) and longer than SQLite's longest busy-handler sleep (100 ms): a request
#: that has been waiting wakes up while the lock is free instead of the import taking it again at
#: once (SQLite does not queue waiting writers).
BATCH_PAUSE_S = 0.12
#: A run whose progress has not moved for this long is taken for dead (its process stopped): a
#: new "import" continues it. A live run writes a batch every second or so.
STALE_RUN_S = 120


class _BatchChanged(Exception):
    """A batch no longer checks clean against the archive (someone changed it meanwhile)."""


class _RunTakenOver(Exception):
    """Another run of the same import took it over (this one was thought dead)."""


def _batch(item_rows: list[list[Any]], start: int, size: int) -> tuple[list[Any], int]:
    """The rows of whole households from item ``start`` on, about ``size`` of them (at least one
    household); and the index of the next item."""
    rows: list[Any] = []
    end = start
    while end < len(item_rows) and (not rows or len(rows) + len(item_rows[end]) <= size):
        rows.extend(item_rows[end])
        end += 1
    return rows, end


def _next_size(size: int, rows: int, held: float) -> int:
    """Rows for the next batch: the pace of this one, aimed at ``BATCH_TARGET_S``."""
    if held <= 0 or rows <= 0:
        return size
    wanted = int(rows * BATCH_TARGET_S / held)
    return max(BATCH_MIN_ROWS, min(BATCH_MAX_ROWS, wanted, size * 2))


def _sub_table(table: LedgerTable, rows: list[Any]) -> LedgerTable:
    return LedgerTable(
        file_format=table.file_format,
        sheet=table.sheet,
        header_row=table.header_row,
        headers=table.headers,
        ignored=table.ignored,
        rows=rows,
    )


def _add_counts(total: dict[str, dict[str, int]], more: dict[str, dict[str, int]]) -> None:
    for kind, counts in more.items():
        for key, n in counts.items():
            total.setdefault(kind, {}).setdefault(key, 0)
            total[kind][key] += n


def _merged_result(
    earlier: dict[str, dict[str, int]] | None, this_run: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """Counts over every run of a continued import: what an earlier run wrote, this run finds
    unchanged, so created and updated add up and "unchanged" is what is left."""
    if not earlier:
        return this_run
    merged: dict[str, dict[str, int]] = {}
    for kind, counts in this_run.items():
        total = sum(counts.values())
        before = earlier.get(kind, {})
        create = counts.get("create", 0) + before.get("create", 0)
        update = counts.get("update", 0) + before.get("update", 0)
        merged[kind] = {
            "create": create,
            "update": update,
            "unchanged": max(0, total - create - update),
        }
    return merged


def _now() -> str:
    return timezone.now().isoformat()


def _is_live(progress: dict[str, Any]) -> bool:
    if progress.get("state") != "running":
        return False
    try:
        at = dt.datetime.fromisoformat(progress["at"])
    except (KeyError, TypeError, ValueError):
        return False
    return (timezone.now() - at).total_seconds() < STALE_RUN_S


def _save_report(pk: int, report: dict[str, Any]) -> None:
    """Store a refusal's report, keeping how far an earlier run got."""
    with transaction.atomic():
        locked = LedgerImport.objects.select_for_update().get(pk=pk)
        if "progress" in locked.report:
            report = {**report, "progress": locked.report["progress"]}
        locked.report = report
        locked.save(update_fields=["report"])


def _stop(pk: int, run: str, reason: str) -> dict[str, Any]:
    """Mark the run stopped (the batches written so far stay) and return its progress."""
    with transaction.atomic():
        locked = LedgerImport.objects.select_for_update().get(pk=pk)
        progress = dict(locked.report.get("progress") or {})
        if progress.get("run") == run:
            progress.update(state="stopped", reason=reason, at=_now())
            locked.report = {**locked.report, "progress": progress}
            locked.save(update_fields=["report"])
        return progress


def _stopped_message(progress: dict[str, Any], why: str) -> str:
    return _(
        "%(why)s %(done)d of %(total)d households were imported; the others were not. Press "
        "“Import” again to continue: households already imported are updated, not duplicated."
    ) % {
        "why": why,
        "done": progress.get("households_done", 0),
        "total": progress.get("households", 0),
    }


def ledger_import(
    *,
    by: Any,
    ledger_import: LedgerImport,
    valid_only: bool = False,
    request: Any = None,
    today: dt.date | None = None,
) -> LedgerImport:
    """Import a checked ledger in short batches; ``valid_only`` skips households with errors.

    Raises ``ImportRefused`` when the file still has errors and ``valid_only`` is false, when no
    row is valid, or when it was imported already (nothing written then); and when a batch could
    not be written (the batches before it stay; the message and ``report["progress"]`` say how
    far it got, and calling again continues).
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
    pk = ledger_import.pk
    current = LedgerImport.objects.get(pk=pk)
    if not current.can_import:
        raise ImportRefused(_("This file has been imported already."))
    if _is_live(current.report.get("progress") or {}):
        raise ImportRefused(_("This file is being imported right now; wait for it to finish."))
    # The whole file is checked before anything is written, outside any transaction: reading
    # takes no lock that another user's write would wait for.
    plan = plan_ledger(table, target=node, today=today)
    report = _report(table, plan, {})
    refused: ImportRefused | None = None
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
        _save_report(pk, report)
        raise refused
    run = uuid.uuid4().hex
    with transaction.atomic():
        locked = LedgerImport.objects.select_for_update().get(pk=pk)
        earlier = dict(locked.report.get("progress") or {})
        if not locked.can_import:
            raise ImportRefused(_("This file has been imported already."))
        if _is_live(earlier):
            raise ImportRefused(_("This file is being imported right now; wait for it to finish."))
        previous: dict[str, dict[str, int]] = {}
        _add_counts(previous, earlier.get("earlier") or {})
        _add_counts(previous, earlier.get("written") or {})
        progress: dict[str, Any] = {
            "run": run,
            "state": "running",
            "valid_only": valid_only,
            "started": _now(),
            "at": _now(),
            "batches_done": 0,
            "households": len(plan.items),
            "households_done": 0,
            "rows": sum(len(rows) for rows in plan.item_rows),
            "rows_done": 0,
            "longest_batch_s": 0.0,
            "written": {},
            "runs": int(earlier.get("runs", 0)) + 1,
            "earlier": previous,
        }
        report["plan"] = locked.report.get("plan", {})
        locked.report = {**report, "progress": progress}
        locked.save(update_fields=["report"])
    written: dict[str, dict[str, int]] = {}
    detail = {
        "ledger_import": pk,
        "file": ledger_import.original_name,
        "valid_only": valid_only,
        "rows": plan.rows,
        "skipped_households": plan.skipped_households,
        "errors": len(plan.errors),
    }
    longest = 0.0
    size = BATCH_ROWS
    start = 0
    number = 0
    pause = 0.0
    while start < len(plan.item_rows):
        rows, end = _batch(plan.item_rows, start, size)
        number += 1
        last = end == len(plan.item_rows)
        if pause:
            time.sleep(pause)  # let the writers that waited behind the last batch in
        tick = time.monotonic()
        try:
            with transaction.atomic():
                locked = LedgerImport.objects.select_for_update().get(pk=pk)
                progress = dict(locked.report.get("progress") or {})
                if progress.get("run") != run:
                    raise _RunTakenOver
                # Checked again in the batch's own transaction: what the archive holds now.
                batch = plan_ledger(_sub_table(table, rows), target=node, today=today)
                if batch.errors:
                    raise _BatchChanged
                counts = households_import(
                    by=by,
                    target=node,
                    items=batch.items,
                    request=request,
                    detail={**detail, "batch": number, "last": last, "run": run},
                ).as_dict()
                _add_counts(written, counts)
                longest = max(longest, time.monotonic() - tick)
                progress.update(
                    at=_now(),
                    batches_done=number,
                    households_done=progress["households_done"] + len(batch.items),
                    rows_done=progress["rows_done"] + len(rows),
                    longest_batch_s=round(longest, 3),
                    held_s=[*progress.get("held_s", []), round(time.monotonic() - tick, 3)],
                    batch_rows=[*progress.get("batch_rows", []), len(rows)],
                    written=written,
                )
                fields = ["report"]
                if last:
                    progress["state"] = "done"
                    locked.status = LedgerImport.Status.IMPORTED
                    locked.valid_only = valid_only
                    locked.finished_at = timezone.now()
                    result = _merged_result(progress.get("earlier"), written)
                    progress["result"] = result
                    locked.report = {
                        **locked.report,
                        "plan": result,
                        "result": {**result, "seconds": round(time.monotonic() - started, 2)},
                    }
                    fields += ["status", "valid_only", "finished_at"]
                locked.report = {**locked.report, "progress": progress}
                locked.save(update_fields=fields)
        except _RunTakenOver:
            raise ImportRefused(
                _("This file is being imported right now; wait for it to finish.")
            ) from None
        except (_BatchChanged, IntegrityError):
            # Someone changed the same records meanwhile; this batch rolled back entirely.
            stopped = _stop(pk, run, "archive changed")
            why = _("The archive changed during the import.")
            if not stopped.get("households_done"):
                why = _("The archive changed during the import, so nothing was imported.")
                raise ImportRefused(why + " " + _("Press “Import” again to check it.")) from None
            raise ImportRefused(_stopped_message(stopped, why)) from None
        except BaseException:
            try:
                _stop(pk, run, "error")
            except Exception:  # noqa: S110 - the first error is the one to report
                pass
            raise
        held = time.monotonic() - tick  # BEGIN to COMMIT: how long others waited at most
        longest = max(longest, held)
        size = _next_size(size, len(rows), held)
        pause = max(BATCH_PAUSE_S, held)
        start = end
    return LedgerImport.objects.get(pk=pk)
