"""抽样回访 — the town draws done households of a campaign at random and calls them back; each
call's result is kept beside the task it checks."""

from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.lib.context import AuditContext
from minqing.lib.errors import InvalidTransition
from minqing.menus.errors import MenuErrorCode
from minqing.menus.models import (
    BackCheck,
    BackCheckItem,
    BackCheckResult,
    Campaign,
    Outcome,
    Task,
)
from minqing.menus.permissions import MenuAction, require
from minqing.org.models import Level, Node, subtree_q

MAX_SAMPLE = 500


def backcheck_draw(
    *,
    by: User,
    campaign: Campaign,
    town: Node,
    size: int,
    seed: int | None = None,
    context: AuditContext | None = None,
) -> BackCheck:
    """Draw ``size`` households answered at home or by phone in ``town`` (flagged ones first:
    answers given too fast are the ones worth a call), at random, reproducibly by ``seed``."""
    if town.level != Level.TOWN:
        raise ValueError("a back-check is drawn in a town")
    require(by, MenuAction.BACKCHECK, town)
    if not 1 <= int(size) <= MAX_SAMPLE:
        raise ValidationError(
            {
                "size": ValidationError(
                    _("Draw between 1 and %(n)d households.") % {"n": MAX_SAMPLE},
                    code=MenuErrorCode.SAMPLE_SIZE,
                )
            }
        )
    seed = random.SystemRandom().randrange(2**62) if seed is None else int(seed)
    done = Task.objects.filter(
        subtree_q(town.path, "node_path"),
        campaign=campaign,
        outcome__in=[Outcome.HOME, Outcome.PHONE],
    ).exclude(backchecks__result__isnull=False)
    flagged = sorted(done.filter(flagged=True).values_list("pk", flat=True))
    others = sorted(done.filter(flagged=False).values_list("pk", flat=True))
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    rng.shuffle(flagged)
    rng.shuffle(others)
    chosen = (flagged + others)[:size]
    if not chosen:
        raise InvalidTransition(
            _("No household of this town has answers to check yet."),
            code=MenuErrorCode.SAMPLE_SIZE,
        )
    with transaction.atomic():
        check = BackCheck.objects.create(
            campaign=campaign, town=town, drawn_by=by, size=len(chosen), seed=seed
        )
        BackCheckItem.objects.bulk_create(BackCheckItem(backcheck=check, task_id=t) for t in chosen)
        audit_record(
            action=AuditAction.MENUS_BACKCHECK_DRAW,
            user=by,
            context=context,
            obj=check,
            detail={"campaign": campaign.pk, "town": town.pk, "size": len(chosen), "seed": seed},
        )
    return check


def backcheck_result(
    *,
    by: User,
    item: BackCheckItem,
    result: str,
    note: str = "",
    context: AuditContext | None = None,
) -> BackCheckItem:
    """What the household said when called back (confirmed, says otherwise, unreachable)."""
    require(by, MenuAction.BACKCHECK, item.backcheck.town)
    if result not in BackCheckResult.values or result == BackCheckResult.PENDING:
        raise ValidationError(
            {
                "result": ValidationError(
                    _("Choose what the household said."), code=MenuErrorCode.UNKNOWN_RESULT
                )
            }
        )
    note = " ".join(str(note or "").split())
    if len(note) > 500:
        raise ValidationError(
            {"note": ValidationError(_("At most 500 characters."), code="max_length")}
        )
    if result == BackCheckResult.DIFFERS and not note:
        raise ValidationError(
            {
                "note": ValidationError(
                    _("Say what the household said otherwise."), code=MenuErrorCode.REASON_REQUIRED
                )
            }
        )
    with transaction.atomic():
        item = BackCheckItem.objects.select_for_update().get(pk=item.pk)
        item.result, item.note = result, note
        item.checked_by, item.checked_at = by, timezone.now()
        item.save(update_fields=["result", "note", "checked_by", "checked_at"])
        audit_record(
            action=AuditAction.MENUS_BACKCHECK_RESULT,
            user=by,
            context=context,
            obj=item,
            detail={"task": item.task_id, "result": result},
        )
    return item
