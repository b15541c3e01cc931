"""Signing, sealing, anchoring and verifying the audit trail (docs/SECURITY-BAR.md §13): keyed, so
database access alone can neither forge a row nor cut the tail unnoticed.

Three layers, each keyed with the audit key (``minqing.audit.keys``, outside the database):

1. **Signed rows.** ``audit_record`` signs each row as it inserts it: HMAC-SHA256 over its
   content, a random nonce and the key id. No lock and no shared row: writers of different
   villages (or the same one) never wait for each other.
2. **One sealed chain.** :func:`seal_pending` (the worker's ``audit.seal`` job, every few
   seconds) gives every committed, correctly signed row the next position of the chain and a
   MAC over the previous seal's MAC and the row's own. One sealer at a time: the position is
   unique, so a second sealer's batch is refused by the database and rolls back. Rows are sealed
   in id order within a batch; a row whose transaction committed late joins a later batch.
   Seals are insert-only too (the sealer needs INSERT and SELECT only, so the database role of
   the running application needs no UPDATE anywhere on the audit tables).
3. **Anchors outside the database.** After each batch the chain's head (position, last row,
   MAC) is appended to ``anchor_path()`` (a 0600 append-only file in the data dir) and logged to
   ``minqing.audit``. Someone who deletes the newest rows and seals (or the whole trail) from
   the database cannot delete them from the file: :func:`verify_chain` compares the two.

What is not covered: a row deleted in the seconds before it is sealed leaves no trace in the
database (the anchors bound that window to the sealing interval).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from minqing.audit.keys import AuditKeyError, AuditKeys, audit_keys, keys_naming
from minqing.audit.models import AuditEvent, AuditSeal

logger = logging.getLogger("minqing.audit")

GENESIS = "0" * 64
#: A sealing batch; the job loops until nothing is left.
SEAL_BATCH = 2000
#: How far back before the last sealed row the frequent sealing run looks for rows whose
#: transaction committed late; ``seal_pending(full=True)`` (hourly, and ``verify_audit``) looks
#: at every row.
SEAL_SETTLE = dt.timedelta(hours=1)
MAX_PROBLEMS = 20


# --- signing ------------------------------------------------------------------------------


def event_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at.astimezone(dt.UTC).isoformat(),
        "user_id": event.user_id_value,
        "username": event.username,
        "ip": event.ip,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "success": event.success,
        "detail": event.detail,
    }


def _event_message(event: AuditEvent) -> bytes:
    payload = {"fields": event_fields(event), "nonce": event.nonce, "key_id": event.key_id}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return b"minqing-audit-event\x00" + text.encode()


def event_mac(event: AuditEvent, keys: AuditKeys | None = None) -> str:
    keys = keys or keys_naming(event.key_id)
    return keys.mac(event.key_id, _event_message(event))


def sign(event: AuditEvent) -> None:
    """Give ``event`` its nonce, key id and MAC (before it is inserted)."""
    keys = audit_keys()
    event.nonce = secrets.token_hex(16)
    event.key_id = keys.current
    event.mac = event_mac(event, keys)


def seal_mac(
    keys: AuditKeys, key_id: int, prev_mac: str, position: int, event_id: int, row_mac: str
) -> str:
    message = f"minqing-audit-seal\x00{prev_mac}|{position}|{event_id}|{row_mac}".encode()
    return keys.mac(key_id, message)


# --- anchors ------------------------------------------------------------------------------


def anchor_path() -> Path:
    """The anchor file (``settings.MINQING_AUDIT_ANCHORS``). A backup of the database must
    carry a copy of it, and a restore must put it back, or the restored chain reads as cut."""
    return Path(settings.MINQING_AUDIT_ANCHORS)


@dataclass(frozen=True)
class Anchor:
    """One line of the anchor file: the chain's head as the sealer left it."""

    at: str
    position: int
    event: int
    mac: str


def write_anchor(seal: AuditSeal, *, rows: int) -> Anchor:
    anchor = Anchor(
        at=timezone.now().isoformat(), position=seal.position, event=seal.event_id, mac=seal.mac
    )
    line = json.dumps({"chain": "audit", **anchor.__dict__, "rows": rows}) + "\n"
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    logger.info(
        "audit anchor: position %s, row %s, mac %s (%s rows sealed)",
        anchor.position,
        anchor.event,
        anchor.mac,
        rows,
    )
    return anchor


def read_anchors() -> tuple[list[Anchor], list[str]]:
    """The anchors in the file, and a problem for every line that cannot be read."""
    path = anchor_path()
    if not path.exists():
        return [], []
    anchors, problems = [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            anchors.append(
                Anchor(
                    at=str(raw["at"]),
                    position=int(raw["position"]),
                    event=int(raw["event"]),
                    mac=str(raw["mac"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            problems.append(f"anchor file {path} line {number} cannot be read")
    return anchors, problems


# --- sealing ------------------------------------------------------------------------------


def seal_pending(*, full: bool = False, batch: int = SEAL_BATCH) -> dict[str, Any]:
    """Seal every committed, correctly signed row not sealed yet; anchor the new head.

    Returns ``{"sealed": n, "position": head, "refused": [ids of rows whose MAC is wrong]}``.
    A row with a wrong MAC (edited before it was sealed, or forged) is never sealed: it stays
    unsealed and ``verify_chain`` names it.
    """
    sealed = 0
    refused: list[int] = []
    head = None
    while True:
        try:
            done, bad, last = _seal_batch(full=full, batch=batch, skip=refused)
        except IntegrityError:
            logger.warning("audit sealing: another sealer took the same positions; retry later")
            break
        refused.extend(bad)
        if last is not None:
            head = last
            sealed += done
        if done + len(bad) < batch:
            break
    if head is not None:
        write_anchor(head, rows=sealed)
    for pk in refused:
        logger.error("audit row %s does not match its MAC: not sealed (edited or forged)", pk)
    position = head.position if head is not None else _head_position()
    return {"sealed": sealed, "position": position, "refused": refused}


def _head_position() -> int:
    last = AuditSeal.objects.order_by("-position").values_list("position", flat=True).first()
    return last or 0


def _seal_batch(
    *, full: bool, batch: int, skip: Iterable[int]
) -> tuple[int, list[int], AuditSeal | None]:
    keys = audit_keys()
    with transaction.atomic():
        last = AuditSeal.objects.order_by("-position").first()
        prev_mac, position = (last.mac, last.position) if last is not None else (GENESIS, 0)
        pending = AuditEvent.objects.filter(seal__isnull=True).exclude(id__in=list(skip))
        last_at = (
            AuditEvent.objects.filter(pk=last.event_id).values_list("at", flat=True).first()
            if last is not None
            else None
        )
        if not full and last_at is not None:
            pending = pending.filter(at__gte=last_at - SEAL_SETTLE)
        now = timezone.now()
        seals, bad = [], []
        for event in pending.order_by("id")[:batch]:
            try:
                good = event.mac == event_mac(event)
            except AuditKeyError:
                good = False
            if not good:
                bad.append(event.pk)
                continue
            position += 1
            mac = seal_mac(keys, keys.current, prev_mac, position, event.pk, event.mac)
            seals.append(
                AuditSeal(
                    position=position, event=event, key_id=keys.current, mac=mac, sealed_at=now
                )
            )
            prev_mac = mac
        AuditSeal.objects.bulk_create(seals)
    return len(seals), bad, (seals[-1] if seals else None)


# --- verifying ----------------------------------------------------------------------------


@dataclass
class ChainReport:
    """What :func:`verify_chain` found. ``ok`` is the one answer; ``problems`` say where."""

    sealed: int = 0
    unsealed: int = 0
    anchors: int = 0
    position: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("… more problems not listed")

    def summary(self) -> str:
        head = (
            f"{self.sealed} sealed rows (head at position {self.position}), "
            f"{self.unsealed} not sealed yet, {self.anchors} anchors"
        )
        if self.ok:
            return f"audit trail intact: {head}"
        return f"audit trail BROKEN: {head}\n" + "\n".join(f"- {p}" for p in self.problems)


def verify_chain(*, unsealed_limit: dt.timedelta | None = None) -> ChainReport:
    """Check every row's MAC, the sealed chain, and the chain against the anchor file.

    Broken when: a row's content does not match its MAC (edited, forged); a sealed row or seal
    is missing or moved (deleted, reordered, re-chained); the chain ends before, or differs
    from, an anchor (the newest rows cut); two rows carry one MAC (copied); a row is not sealed
    ``unsealed_limit`` after it was written (default ``settings.MINQING_AUDIT_UNSEALED_LIMIT``
    seconds: the worker is not sealing, or someone is holding rows back). Reads only.
    """
    if unsealed_limit is None:
        unsealed_limit = dt.timedelta(seconds=settings.MINQING_AUDIT_UNSEALED_LIMIT)
    report = ChainReport()
    anchors, anchor_problems = read_anchors()
    for problem in anchor_problems:
        report.add(problem)
    report.anchors = len(anchors)
    by_position: dict[int, Anchor] = {}
    for anchor in anchors:
        by_position.setdefault(anchor.position, anchor)
    _walk_seals(report, by_position)
    if anchors:
        newest = max(anchors, key=lambda a: a.position)
        if newest.position > report.position:
            report.add(
                f"the newest rows were removed: the anchor of {newest.at} names position "
                f"{newest.position} (row {newest.event}); the chain in the database ends at "
                f"position {report.position}"
            )
    elif report.position:
        report.add(
            f"no anchor file at {anchor_path()}: the end of the chain cannot be checked "
            "(restore the file with the database)"
        )
    _check_unsealed(report, unsealed_limit)
    for row in (
        AuditEvent.objects.values("mac").annotate(n=Count("id")).filter(n__gt=1).order_by()[:5]
    ):
        ids = list(AuditEvent.objects.filter(mac=row["mac"]).values_list("id", flat=True))
        report.add(f"rows {', '.join(map(str, ids))} carry the same MAC (a copied row)")
    return report


def _walk_seals(report: ChainReport, anchors: dict[int, Anchor]) -> None:
    prev_mac, position = GENESIS, 0
    seals = AuditSeal.objects.order_by("position")
    chunk: list[AuditSeal] = []
    for seal in seals.iterator(chunk_size=SEAL_BATCH):
        chunk.append(seal)
        if len(chunk) == SEAL_BATCH:
            prev_mac, position = _check_seals(report, chunk, anchors, prev_mac, position)
            chunk = []
    _check_seals(report, chunk, anchors, prev_mac, position)


def _check_seals(
    report: ChainReport,
    seals: list[AuditSeal],
    anchors: dict[int, Anchor],
    prev_mac: str,
    position: int,
) -> tuple[str, int]:
    # The rows by a second query, not a join: a seal whose row was deleted must still be seen.
    events = AuditEvent.objects.in_bulk([s.event_id for s in seals])
    for seal in seals:
        if seal.position != position + 1:
            report.add(
                f"positions {position + 1}–{seal.position - 1} of the chain are missing "
                "(seals removed)"
            )
        event = events.get(seal.event_id)
        try:
            keys = keys_naming(seal.key_id)
            if event is None:
                report.add(f"row {seal.event_id} (position {seal.position}) was deleted")
            elif event.mac != event_mac(event):
                report.add(f"row {event.pk}: content does not match its MAC (edited)")
            else:
                report.sealed += 1
            row_mac = event.mac if event is not None else ""
            expected = seal_mac(keys, seal.key_id, prev_mac, seal.position, seal.event_id, row_mac)
        except AuditKeyError as exc:
            report.add(f"position {seal.position}: {exc}")
            expected = None
        if event is not None and expected is not None and seal.mac != expected:
            report.add(
                f"row {event.pk} (position {seal.position}): seal does not match the chain "
                "(rows re-chained, reordered or removed before it)"
            )
        anchor = anchors.get(seal.position)
        if anchor is not None and (anchor.mac != seal.mac or anchor.event != seal.event_id):
            report.add(
                f"position {seal.position} differs from the anchor of {anchor.at} "
                "(the chain was rewritten)"
            )
        prev_mac, position = seal.mac, seal.position
    report.position = position
    return prev_mac, position


def _check_unsealed(report: ChainReport, limit: dt.timedelta) -> None:
    cutoff = timezone.now() - limit
    old = 0
    for event in AuditEvent.objects.filter(seal__isnull=True).order_by("id").iterator():
        report.unsealed += 1
        try:
            good = event.mac == event_mac(event)
        except AuditKeyError:
            good = False
        if not good:
            report.add(f"row {event.pk} (not sealed): content does not match its MAC (edited)")
        elif event.at < cutoff:
            old += 1
    if old:
        report.add(
            f"{old} rows written more than {int(limit.total_seconds())} s ago are not sealed "
            "(is the worker running? `minqing verify_audit` seals them first)"
        )
