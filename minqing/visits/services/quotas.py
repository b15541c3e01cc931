"""Editing a county's visit quotas (走访频次): the command centre sets them, all rows at once.

The page sends every row; either all of them are saved or none. An edit based on rules that
someone else changed since the page was opened is stale (docs/SECURITY-BAR.md §18), never an
overwrite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.models import LiaisonKind
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.org.models import Node
from minqing.visits.errors import VisitErrorCode
from minqing.visits.models import (
    MAX_LOOKBACK_DAYS,
    MIN_LOOKBACK_DAYS,
    Period,
    QuotaRule,
    VisitSettings,
)

#: Who sets a county's quotas.
QUOTA_ROLES = frozenset({Role.COMMAND_CENTRE})
#: More contacts than days with one household makes no sense.
MAX_PER_HOUSEHOLD = {Period.WEEK: 7, Period.MONTH: 31}
#: "Different households" rules: at most this many in a period.
MAX_HOUSEHOLDS = 1000
FIELDS = ("kind", "period", "count", "per_household", "home_only", "active")


def can_edit(user: Any, county: Node) -> bool:
    from minqing.accounts.scope import scope_for

    return scope_for(user).covers_path(county.path, roles=QUOTA_ROLES)


def _state(rule: QuotaRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in FIELDS}


def _stamp(rules: Iterable[QuotaRule]) -> str:
    state = sorted((_state(r) | {"id": r.pk} for r in rules), key=lambda s: s["id"])
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def quotas_stamp(county: Node) -> str:
    """A digest of the county's rules as they are now."""
    return _stamp(QuotaRule.objects.filter(county=county))


def check_row(row: dict[str, Any]) -> dict[str, ValidationError]:
    """Field → refusal for one rule's values (empty when they are fine)."""
    errors: dict[str, ValidationError] = {}
    if row.get("kind") not in LiaisonKind.values:
        errors["kind"] = ValidationError(
            _("Choose who the rule is for."), code=VisitErrorCode.UNKNOWN_KIND
        )
    if row.get("period") not in Period.values:
        errors["period"] = ValidationError(
            _("Choose a week or a month."), code=VisitErrorCode.UNKNOWN_PERIOD
        )
    count = row.get("count")
    if not isinstance(count, int) or count < 1:
        errors["count"] = ValidationError(_("At least 1."), code=VisitErrorCode.COUNT_OUT_OF_RANGE)
    elif row.get("per_household", True):
        weekly = row.get("period") == Period.WEEK
        limit = MAX_PER_HOUSEHOLD[Period.WEEK if weekly else Period.MONTH]
        if count > limit:
            message = (
                _("At most %(n)d contacts with one household a week.")
                if weekly
                else _("At most %(n)d contacts with one household a month.")
            )
            errors["count"] = ValidationError(
                message % {"n": limit}, code=VisitErrorCode.COUNT_OUT_OF_RANGE
            )
    elif count > MAX_HOUSEHOLDS:
        errors["count"] = ValidationError(
            _("At most %(n)d households.") % {"n": MAX_HOUSEHOLDS},
            code=VisitErrorCode.COUNT_OUT_OF_RANGE,
        )
    return errors


def _sameness(row: dict[str, Any]) -> tuple:
    return (
        row.get("kind"),
        row.get("period"),
        bool(row.get("per_household")),
        bool(row.get("home_only")),
    )


def quotas_save(
    *,
    by: User,
    county: Node,
    rows: dict[str, dict[str, Any]],
    base_stamp: str | None = None,
    context: AuditContext | None = None,
) -> list[list[Any]]:
    """Save the county's quota rules in one go, or nothing at all.

    ``rows``: row key → {id (None for a new rule), kind, period, count, per_household,
    home_only, active, delete}. ``ValidationError`` messages are keyed "<row key>.<field>".
    Returns the changes written (also the audit row's detail).
    """
    if not can_edit(by, county):
        raise PermissionDenied(_("Only the county command centre sets the visit quotas."))
    errors: dict[str, ValidationError] = {}
    seen: dict[tuple, str] = {}
    kept = {key: row for key, row in rows.items() if not row.get("delete")}
    for key, row in kept.items():
        errors.update({f"{key}.{name}": msg for name, msg in check_row(row).items()})
        same = _sameness(row)
        if same in seen and f"{key}.kind" not in errors:
            errors[f"{key}.kind"] = ValidationError(
                _("Another rule already says this for %(kind)s per %(period)s; change that one.")
                % {"kind": LiaisonKind(row["kind"]).label, "period": Period(row["period"]).label},
                code=VisitErrorCode.RULE_TWICE,
            )
        seen.setdefault(same, key)
    if not kept:
        errors["__all__"] = ValidationError(
            _("Keep at least one rule; switch rules off instead of deleting all."),
            code=VisitErrorCode.NO_RULES,
        )
    if errors:
        raise ValidationError(errors)
    try:
        return _save(by, county, rows, base_stamp, context)
    except IntegrityError:
        # Someone else added the same rule at the same moment: their page wins, this one is old.
        raise StaleEdit from None


def _save(
    by: User,
    county: Node,
    rows: dict[str, dict[str, Any]],
    base_stamp: str | None,
    context: AuditContext | None,
) -> list[list[Any]]:
    with transaction.atomic():
        current = {r.pk: r for r in QuotaRule.objects.select_for_update().filter(county=county)}
        if base_stamp and _stamp(current.values()) != base_stamp:
            raise StaleEdit
        changes: list[list[Any]] = []
        # One rule may take over what another said (both edited at once): deletes first, and
        # the rules whose sameness changes step aside first, so the unique constraint on a
        # rule's sameness never sees two rows saying the same thing half way.
        ordered = sorted(rows.values(), key=lambda row: not row.get("delete"))
        moving = [
            current[row["id"]]
            for row in ordered
            if row.get("id") in current
            and not row.get("delete")
            and _sameness(_state(current[row["id"]])) != _sameness(row)
        ]
        for row in ordered:
            if row.get("delete") and row.get("id"):
                if row["id"] not in current:
                    raise StaleEdit  # deleted by someone else meanwhile
                rule = current.pop(row["id"])
                changes.append(["delete", rule.pk, _state(rule)])
                rule.delete()
        for rule in moving:
            QuotaRule.objects.filter(pk=rule.pk).update(kind=f"~{rule.pk}"[:16])
        for row in ordered:
            if row.get("delete"):
                continue
            found = current.get(row["id"]) if row.get("id") else None
            if row.get("id") and found is None:
                raise StaleEdit  # deleted by someone else meanwhile
            values = {name: row[name] for name in FIELDS}
            if found is None:
                created = QuotaRule.objects.create(county=county, **values)
                changes.append(["create", created.pk, values])
            elif _state(found) != values:
                old = _state(found)
                for name, value in values.items():
                    setattr(found, name, value)
                found.save(update_fields=list(FIELDS))
                changes.append(["update", found.pk, old, values])
        if changes:
            audit_record(
                action=AuditAction.VISITS_QUOTAS_SAVE,
                user=by,
                context=context,
                obj=county,
                detail={"changes": changes},
            )
    return changes


def lookback_save(
    *, by: User, county: Node, days: Any, context: AuditContext | None = None
) -> bool:
    """Set how many days back the county's visits may be dated (补录期限). True if it changed."""
    from minqing.visits.services.cadence import settings_for

    if not can_edit(by, county):
        raise PermissionDenied(_("Only the county command centre sets the visit quotas."))
    if not isinstance(days, int) or not MIN_LOOKBACK_DAYS <= days <= MAX_LOOKBACK_DAYS:
        raise ValidationError(
            {
                "lookback_days": ValidationError(
                    _("Give a number of days from 1 to %(n)d.") % {"n": MAX_LOOKBACK_DAYS},
                    code=VisitErrorCode.LOOKBACK_OUT_OF_RANGE,
                )
            }
        )
    settings = settings_for(county)
    with transaction.atomic():
        old = VisitSettings.objects.select_for_update().get(pk=settings.pk).lookback_days
        if old == days:
            return False
        VisitSettings.objects.filter(pk=settings.pk).update(lookback_days=days)
        audit_record(
            action=AuditAction.VISITS_LOOKBACK_SAVE,
            user=by,
            context=context,
            obj=county,
            detail={"lookback_days": [old, days]},
        )
    return True
