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
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.accounts.models import User
from minqing.accounts.permissions import Action, allowed
from minqing.audit.actions import AuditAction
from minqing.households.errors import HouseholdErrorCode
from minqing.households.ledger import storage
from minqing.households.ledger.planner import Plan, plan_ledger
from minqing.households.ledger.reader import LedgerFileError, LedgerTable, check_upload, read_ledger
from minqing.households.models import LedgerImport
from minqing.households.services.bulk import households_import
from minqing.lib.context import AuditContext
from minqing.lib.crypto import KeyringError
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node

#: Levels a ledger may be imported into: a village, or anything holding villages.
IMPORT_LEVELS = frozenset({Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN, Level.VILLAGE})


#: Refused: another run of the same file holds it.
RUNNING_NOW = gettext_lazy("This file is being imported right now; wait for it to finish.")


class ImportRefused(Exception):
    """The import did not run (errors in the file, already imported…); ``message`` says why."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def require_import(by: User, node: Node) -> None:
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


def _check(by: User, node: Node, table: LedgerTable, today: dt.date | None) -> tuple[Plan, dict]:
    plan = plan_ledger(table, target=node, today=today)
    counts = households_import(by=by, target=node, items=plan.items, dry_run=True)
    return plan, _report(table, plan, counts.as_dict())


def ledger_check(
    *, by: User, node: Node, filename: str, data: bytes, today: dt.date | None = None
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
#: A ``running`` import whose progress has not moved for this long lost its worker (the process
#: was killed, the machine restarted): it is marked failed and "Import" continues it. A live
#: import moves at every batch (a second or so) and after checking the whole file first (well
#: under a minute for the largest file the upload takes).
STALE_RUN = dt.timedelta(minutes=5)
#: The worker job that writes a queued import (``minqing.households.jobs``), and how long RQ
#: lets it run: a 24,000-row ledger takes minutes in short batches.
IMPORT_JOB = "minqing.households.jobs.run_import"
IMPORT_JOB_TIMEOUT = 3 * 3600


class _BatchChanged(Exception):
    """A batch no longer checks clean against the archive (someone changed it meanwhile)."""


class _RunTakenOver(Exception):
    """The import is no longer this run's (it was failed as abandoned, or another run took it)."""


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


# --- why an import did not (all) happen -----------------------------------------------------
#
# The worker has no reader, so a failure is stored as a code and put in words when it is shown,
# in the language of whoever reads it.


def _why(code: str) -> str:
    return {
        "errors": _(
            "The file has errors, so nothing was imported. Correct "
            "them and upload the file again, or import the valid "
            "rows only."
        ),
        "no_valid": _("No household in the file is free of errors; nothing was imported."),
        "file_gone": _("The uploaded file is no longer available; upload it again."),
        "archive_changed": _("The archive changed during the import."),
        "not_allowed": _("Your role may no longer import household ledgers here."),
        "abandoned": _("The background worker stopped during the import."),
    }.get(code, _("The import stopped on an error."))


def _stopped_message(progress: dict[str, Any], why: str) -> str:
    return _(
        "%(why)s %(done)d of %(total)d households were imported; the others were not. Press "
        "“Import” again to continue: households already imported are updated, not duplicated."
    ) % {
        "why": why,
        "done": progress.get("households_done", 0),
        "total": progress.get("households", 0),
    }


def failure_message(ledger: LedgerImport) -> str:
    """Why a failed import stopped, and how far it got: "" when it did not fail."""
    failure = ledger.report.get("failure") or {}
    if ledger.status != LedgerImport.Status.FAILED or not failure:
        return ""
    code = failure.get("code", "")
    progress = ledger.report.get("progress") or {}
    if code in ("errors", "no_valid", "file_gone"):
        return _why(code)
    if progress.get("households_done") and progress.get("state") != "done":
        return _stopped_message(progress, _why(code))
    if code == "archive_changed":
        return (
            _("The archive changed during the import, so nothing was imported.")
            + " "
            + _("Press “Import” again to check it.")
        )
    return _why(code)


class ImportFailed(ImportRefused):
    """A refusal with the code it is stored under (``report["failure"]["code"]``)."""

    def __init__(self, code: str, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.report = report


def _fail(
    pk: int, code: str, *, run: str = "", report: dict[str, Any] | None = None
) -> LedgerImport | None:
    """Mark a running import failed (the batches written so far stay); None when it is no
    longer running (or no longer ``run``'s)."""
    with transaction.atomic():
        locked = LedgerImport.objects.select_for_update().get(pk=pk)
        progress = dict(locked.report.get("progress") or {})
        if locked.status != LedgerImport.Status.RUNNING or (run and progress.get("run") != run):
            return None
        if progress.get("state") == "running":
            progress.update(state="stopped", reason=code, at=_now())
        base = report if report is not None else locked.report
        locked.report = {**base, "progress": progress, "failure": {"code": code, "at": _now()}}
        if not progress:
            del locked.report["progress"]
        locked.status = LedgerImport.Status.FAILED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["report", "status", "finished_at"])
        return locked


def expire_stale(pk: int | None = None) -> int:
    """Fail running imports that have not moved for ``STALE_RUN`` (their worker died), so they
    can be imported again to continue. Reads first: nothing is written when none is stale."""
    stale = LedgerImport.objects.filter(
        Q(progress_at__lt=timezone.now() - STALE_RUN) | Q(progress_at__isnull=True),
        status=LedgerImport.Status.RUNNING,
    )
    if pk is not None:
        stale = stale.filter(pk=pk)
    failed = 0
    for stale_pk in list(stale.values_list("pk", flat=True)):
        with transaction.atomic():
            # Checked again under the row lock: a batch may have been written meanwhile.
            if (
                LedgerImport.objects.select_for_update()
                .filter(pk=stale_pk)
                .filter(Q(progress_at__lt=timezone.now() - STALE_RUN) | Q(progress_at__isnull=True))
                .exists()
            ):
                failed += _fail(stale_pk, "abandoned") is not None
    return failed


# --- checking the whole file first ----------------------------------------------------------


def _prepare(
    by: User, ledger: LedgerImport, *, valid_only: bool, today: dt.date | None
) -> tuple[LedgerTable, Plan, dict[str, Any]]:
    """Re-read the stored file and check all of it against the archive as it is now; raises
    ``ImportFailed`` (with the report to keep) when it may not be written. Writes nothing."""
    try:
        data = storage.load(ledger.stored_path)
    except (OSError, ValueError, KeyringError):
        raise ImportFailed("file_gone", _why("file_gone")) from None
    table = read_ledger(data, ledger.file_format)
    # Outside any transaction: reading takes no lock that another user's write would wait for.
    plan = plan_ledger(table, target=ledger.node, today=today)
    report = _report(table, plan, {})
    code = ""
    if plan.errors and not valid_only:
        code = "errors"
    elif not plan.items:
        code = "no_valid"
    if code:
        report["plan"] = households_import(
            by=by, target=ledger.node, items=plan.items, dry_run=True
        ).as_dict()
        raise ImportFailed(code, _why(code), report)
    return table, plan, report


def _save_report(pk: int, report: dict[str, Any]) -> None:
    """Store a refusal's report, keeping how far an earlier run got."""
    with transaction.atomic():
        locked = LedgerImport.objects.select_for_update().get(pk=pk)
        if "progress" in locked.report:
            report = {**report, "progress": locked.report["progress"]}
        locked.report = report
        locked.save(update_fields=["report"])


def _refuse_unless_importable(current: LedgerImport) -> None:
    if current.status == LedgerImport.Status.IMPORTED:
        raise ImportRefused(
            _("This file has been imported already."), HouseholdErrorCode.IMPORT_ALREADY
        )
    if current.is_active:
        raise ImportRefused(str(RUNNING_NOW), HouseholdErrorCode.IMPORT_RUNNING)


def _owned(by: User, ledger_import: LedgerImport) -> LedgerImport:
    """The import, fresh, if ``by`` checked it and may still import into its place."""
    if ledger_import.user_id != by.pk:
        raise LedgerImport.DoesNotExist
    require_import(by, ledger_import.node)
    expire_stale(ledger_import.pk)
    return LedgerImport.objects.select_related("node").get(pk=ledger_import.pk)


# --- queued: the page's "Import" ------------------------------------------------------------


def ledger_queue(
    *,
    by: User,
    ledger_import: LedgerImport,
    valid_only: bool = False,
    context: AuditContext | None = None,
) -> LedgerImport:
    """Hand a checked ledger to the background worker (a large one takes minutes, longer than a
    request may); returns at once, having written no archive row.

    Refused (``ImportRefused``, nothing changed) when the check found errors and ``valid_only``
    is false, when no household is valid, when it is queued, running or imported already. The
    worker checks the whole file again before writing (``run_queued_import``). With Redis the
    job goes on the queue at once; the periodic ``minqing.households.jobs.run_queued_imports``
    takes whatever still waits, with or without Redis.
    """
    from minqing.audit.services import audit_record
    from minqing.lib.worker import enqueue, redis_url

    current = _owned(by, ledger_import)
    _refuse_unless_importable(current)
    report = current.report
    if report.get("errors") and not valid_only:
        raise ImportRefused(_why("errors"), HouseholdErrorCode.IMPORT_HAS_ERRORS)
    if not report.get("valid_households"):
        raise ImportRefused(_why("no_valid"), HouseholdErrorCode.IMPORT_NOTHING_VALID)
    with transaction.atomic():
        queued = LedgerImport.objects.filter(
            pk=current.pk, status__in=LedgerImport.IMPORTABLE
        ).update(
            status=LedgerImport.Status.QUEUED,
            valid_only=valid_only,
            queued_at=timezone.now(),
            finished_at=None,
        )
        if queued != 1:  # the other click won
            raise ImportRefused(str(RUNNING_NOW), HouseholdErrorCode.IMPORT_RUNNING)
        audit_record(
            action=AuditAction.LEDGER_IMPORT_QUEUE,
            user=by,
            context=context,
            obj=current.node,
            detail={
                "ledger_import": current.pk,
                "file": current.original_name,
                "valid_only": valid_only,
            },
        )
        if redis_url():
            enqueue(IMPORT_JOB, job_timeout=IMPORT_JOB_TIMEOUT, ledger_import_id=current.pk)
    return LedgerImport.objects.select_related("node").get(pk=current.pk)


def run_queued_import(pk: int, *, today: dt.date | None = None) -> str:
    """Take a queued import for this worker and write it; returns what happened: "imported",
    "failed", or "claimed_elsewhere" (another worker took it, or it is no longer queued).

    The user who queued it must still be active and still allowed to edit the archive there;
    the whole file is checked again first (a file with errors writes nothing unless "valid rows
    only" was chosen).
    """
    claimed = LedgerImport.objects.filter(pk=pk, status=LedgerImport.Status.QUEUED).update(
        status=LedgerImport.Status.RUNNING, progress_at=timezone.now()
    )
    if claimed != 1:
        return "claimed_elsewhere"
    ledger = LedgerImport.objects.select_related("node", "user").get(pk=pk)
    by = ledger.user
    if not (
        by.is_active
        and allowed(by, Action.VIEW, ledger.node)
        and allowed(by, Action.EDIT_ARCHIVE, ledger.node)
    ):
        _fail(pk, "not_allowed")
        return "failed"
    try:
        table, plan, report = _prepare(by, ledger, valid_only=ledger.valid_only, today=today)
    except ImportFailed as exc:
        _fail(pk, exc.code, report=exc.report)
        return "failed"
    except BaseException:
        _fail(pk, "error")
        raise
    try:
        _write(by, ledger, table, plan, report, valid_only=ledger.valid_only, today=today)
    except _RunTakenOver:
        return "claimed_elsewhere"
    except ImportRefused:
        return "failed"
    return "imported"


# --- in the caller's process: the import_ledger command -------------------------------------


def ledger_import(
    *,
    by: User,
    ledger_import: LedgerImport,
    valid_only: bool = False,
    context: AuditContext | None = None,
    today: dt.date | None = None,
) -> LedgerImport:
    """Import a checked ledger now, in this process, in short batches (the command's way; the
    pages queue it for the worker with :func:`ledger_queue`). ``valid_only`` skips households
    with errors.

    Raises ``ImportRefused`` when the file still has errors and ``valid_only`` is false, when no
    row is valid, or when it is imported, queued or running already (nothing written then); and
    when a batch could not be written (the batches before it stay, the import is failed; the
    message and ``report["progress"]`` say how far it got, and calling again continues).
    """
    current = _owned(by, ledger_import)
    _refuse_unless_importable(current)
    try:
        table, plan, report = _prepare(by, current, valid_only=valid_only, today=today)
    except ImportFailed as exc:
        if exc.report is not None:
            _save_report(current.pk, exc.report)
        raise
    claimed = LedgerImport.objects.filter(pk=current.pk, status__in=LedgerImport.IMPORTABLE).update(
        status=LedgerImport.Status.RUNNING, valid_only=valid_only, progress_at=timezone.now()
    )
    if claimed != 1:
        raise ImportRefused(str(RUNNING_NOW), HouseholdErrorCode.IMPORT_RUNNING)
    try:
        return _write(
            by, current, table, plan, report, valid_only=valid_only, context=context, today=today
        )
    except _RunTakenOver:
        raise ImportRefused(str(RUNNING_NOW), HouseholdErrorCode.IMPORT_RUNNING) from None


# --- writing, batch by batch ----------------------------------------------------------------


def _write(
    by: User,
    ledger: LedgerImport,
    table: LedgerTable,
    plan: Plan,
    report: dict[str, Any],
    *,
    valid_only: bool,
    context: AuditContext | None = None,
    today: dt.date | None = None,
) -> LedgerImport:
    """Write a checked plan of a ``running`` import in short batches; on success the import is
    ``imported``. A batch the archive no longer allows, or any error, fails the import (raising
    ``ImportFailed``; the batches before stay); ``_RunTakenOver`` when it stopped being ours."""
    node = ledger.node
    pk = ledger.pk
    started = time.monotonic()
    run = uuid.uuid4().hex
    with transaction.atomic():
        locked = LedgerImport.objects.select_for_update().get(pk=pk)
        if locked.status != LedgerImport.Status.RUNNING:
            raise _RunTakenOver
        earlier = dict(locked.report.get("progress") or {})
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
        locked.progress_at = timezone.now()
        locked.save(update_fields=["report", "progress_at"])
    written: dict[str, dict[str, int]] = {}
    detail = {
        "ledger_import": pk,
        "file": ledger.original_name,
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
                if locked.status != LedgerImport.Status.RUNNING or progress.get("run") != run:
                    raise _RunTakenOver
                # Checked again in the batch's own transaction: what the archive holds now.
                batch = plan_ledger(_sub_table(table, rows), target=node, today=today)
                if batch.errors:
                    raise _BatchChanged
                counts = households_import(
                    by=by,
                    target=node,
                    items=batch.items,
                    context=context,
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
                locked.progress_at = timezone.now()
                fields = ["report", "progress_at"]
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
            raise
        except (_BatchChanged, IntegrityError):
            # Someone changed the same records meanwhile; this batch rolled back entirely.
            failed = _fail(pk, "archive_changed", run=run)
            raise ImportFailed(
                "archive_changed",
                failure_message(failed) if failed is not None else _why("archive_changed"),
            ) from None
        except BaseException:
            try:
                _fail(pk, "error", run=run)
            except Exception:  # noqa: S110 - the first error is the one to report
                pass
            raise
        held = time.monotonic() - tick  # BEGIN to COMMIT: how long others waited at most
        longest = max(longest, held)
        size = _next_size(size, len(rows), held)
        pause = max(BATCH_PAUSE_S, held)
        start = end
    return LedgerImport.objects.get(pk=pk)
