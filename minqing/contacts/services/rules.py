"""A county's assignment rules (包保规则) and matching rules (结对规则): defaults and edits."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.defaults import CATEGORY_BITS, DEFAULT_MATCHES, DEFAULT_RULES, DIFFICULT_TAGS
from minqing.contacts.errors import ContactErrorCode
from minqing.contacts.models import AssignmentRule, LiaisonKind, MatchRule
from minqing.contacts.permissions import can_edit_rules
from minqing.households.models import HouseholdTag
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.org.models import Node

#: The most households one person can be asked to take, whatever the rule says.
MAX_LOAD = 1000
WEIGHTS = range(1, 11)


def rules_for(county: Node) -> dict[str, AssignmentRule]:
    """The county's assignment rules by kind; the defaults are written the first time."""
    rules = {r.kind: r for r in AssignmentRule.objects.filter(county=county)}
    missing = [k for k in DEFAULT_RULES if k not in rules]
    if missing:
        with transaction.atomic():
            for kind in missing:
                low, high, required, active = DEFAULT_RULES[kind]
                rule, created = AssignmentRule.objects.get_or_create(
                    county=county,
                    kind=kind,
                    defaults={
                        "min_load": low,
                        "max_load": high,
                        "required": required,
                        "active": active,
                    },
                )
                if created and kind == LiaisonKind.CADRE:
                    rule.eligible_tags.set(HouseholdTag.objects.filter(code__in=DIFFICULT_TAGS))
                rules[kind] = rule
            if not MatchRule.objects.filter(county=county).exists():
                tags = {t.code: t for t in HouseholdTag.objects.all()}
                for category, codes in DEFAULT_MATCHES.items():
                    match = MatchRule.objects.create(
                        county=county, kind=LiaisonKind.PARTY_MEMBER, category=category
                    )
                    match.tags.set([tags[c] for c in codes if c in tags])
    return rules


def rules_stamp(county: Node) -> str:
    """A digest of the county's rules as they are now: an edit based on another one is stale."""
    rules = AssignmentRule.objects.filter(county=county).prefetch_related("eligible_tags")
    matches = MatchRule.objects.filter(county=county).prefetch_related("tags")
    state = {
        "rules": sorted((_rule_state(r) | {"kind": r.kind} for r in rules), key=str),
        "matches": sorted((_match_state(m) | {"id": m.pk} for m in matches), key=str),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def _rule_state(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "min_load": rule.min_load,
        "max_load": rule.max_load,
        "required": rule.required,
        "active": rule.active,
        "eligible_tags": sorted(t.code for t in rule.eligible_tags.all()),
    }


def _match_state(match: MatchRule) -> dict[str, Any]:
    return {
        "kind": match.kind,
        "category": match.category,
        "tags": sorted(t.code for t in match.tags.all()),
        "weight": match.weight,
    }


def check_rule(kind: str, data: dict[str, Any]) -> dict[str, str]:
    """Field → message for one assignment rule's values (empty when they are fine)."""
    errors: dict[str, str] = {}
    low, high = data.get("min_load"), data.get("max_load")
    label = LiaisonKind(kind).label
    if high is None or not 0 < high <= MAX_LOAD:
        errors["max_load"] = _("%(kind)s: the most households must be between 1 and %(n)d.") % {
            "kind": label,
            "n": MAX_LOAD,
        }
    if low is None or low < 0:
        errors["min_load"] = _("%(kind)s: the fewest households cannot be negative.") % {
            "kind": label
        }
    elif high is not None and low > high:
        errors["min_load"] = _(
            "%(kind)s: the fewest households (%(low)d) cannot be more than the most (%(high)d)."
        ) % {"kind": label, "low": low, "high": high}
    return errors


def check_match(data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.get("kind") not in LiaisonKind.values:
        errors["kind"] = _("Choose the kind of liaison.")
    if data.get("category") not in CATEGORY_BITS:
        errors["category"] = _("Choose the category of liaison.")
    if data.get("weight") not in WEIGHTS:
        errors["weight"] = _("The weight is a whole number from 1 to 10.")
    return errors


def rules_save(
    *,
    by: User,
    county: Node,
    rules: dict[str, dict[str, Any]],
    matches: list[dict[str, Any]],
    base_stamp: str | None = None,
    context: AuditContext | None = None,
) -> dict[str, Any]:
    """Save the county's rules in one go, or nothing at all.

    ``rules``: kind → {min_load, max_load, required, active, eligible_tags}.
    ``matches``: [{id (None for a new row), kind, category, tags, weight, delete}].
    ``base_stamp``: :func:`rules_stamp` when the editor opened the page; another edit saved
    since then makes this one stale (:class:`StaleEdit`) instead of overwriting it.
    Returns what changed (also the audit row's detail).
    """
    if not can_edit_rules(by, county):
        raise PermissionDenied(_("Only the county command centre sets the assignment rules."))
    errors: list[ValidationError] = []
    for kind, data in rules.items():
        if kind not in LiaisonKind.values:
            errors.append(
                ValidationError(_("Unknown kind of liaison."), code=ContactErrorCode.KIND_UNKNOWN)
            )
            continue
        errors.extend(
            ValidationError(message, code=ContactErrorCode.LOAD_RANGE)
            for message in check_rule(kind, data).values()
        )
    kept = [m for m in matches if not m.get("delete")]
    for match in kept:
        errors.extend(
            ValidationError(message, code=ContactErrorCode.MATCH_INVALID)
            for message in check_match(match).values()
        )
    pairs = [(m.get("kind"), m.get("category")) for m in kept]
    if len(set(pairs)) != len(pairs):
        errors.append(_match_duplicate())
    if errors:
        raise ValidationError(errors)
    rules_for(county)  # the rows every kind needs
    try:
        return _rules_write(by, county, rules, matches, base_stamp, context)
    except IntegrityError:  # two rows swapped their category in one edit
        raise _match_duplicate() from None


def _match_duplicate() -> ValidationError:
    return ValidationError(
        _("Each kind and category can have one matching rule only."),
        code=ContactErrorCode.MATCH_DUPLICATE,
    )


def _rules_write(
    by: User,
    county: Node,
    rules: dict[str, dict[str, Any]],
    matches: list[dict[str, Any]],
    base_stamp: str | None,
    context: AuditContext | None,
) -> dict[str, Any]:
    with transaction.atomic():
        current = {
            r.kind: r
            for r in AssignmentRule.objects.select_for_update()
            .filter(county=county)
            .prefetch_related("eligible_tags")
        }
        if base_stamp is not None and base_stamp != rules_stamp(county):
            raise StaleEdit
        existing = {
            m.pk: m for m in MatchRule.objects.filter(county=county).prefetch_related("tags")
        }
        changed: dict[str, Any] = {}
        for kind, data in rules.items():
            rule = current[kind]
            before = _rule_state(rule)
            for field in ("min_load", "max_load", "required", "active"):
                setattr(rule, field, data[field])
            rule.save(update_fields=["min_load", "max_load", "required", "active"])
            rule.eligible_tags.set(data.get("eligible_tags", []))
            after = _rule_state(AssignmentRule.objects.get(pk=rule.pk))
            if after != before:
                changed[f"rule:{kind}"] = {"old": before, "new": after}
        # Removals first, so a new row may take the place of a removed one.
        for data in sorted(matches, key=lambda m: not m.get("delete")):
            match = existing.get(data["id"]) if data.get("id") else None
            if data.get("id") and match is None:
                raise ValidationError(
                    _("A matching rule was removed meanwhile; reload the page."),
                    code=ContactErrorCode.MATCH_GONE,
                )
            if match is not None and data.get("delete"):
                changed[f"match:{match.pk}"] = {"old": _match_state(match), "new": None}
                match.delete()
                continue
            if data.get("delete"):
                continue
            match_before = _match_state(match) if match else None
            if match is None:
                match = MatchRule(county=county)
            match.kind, match.category = data["kind"], data["category"]
            match.weight = data["weight"]
            match.save()
            match.tags.set(data.get("tags", []))
            match_after = _match_state(MatchRule.objects.get(pk=match.pk))
            if match_after != match_before:
                changed[f"match:{match.pk}"] = {"old": match_before, "new": match_after}
        if not changed:
            return changed
        audit_record(
            action=AuditAction.CONTACTS_RULES_SAVE,
            user=by,
            context=context,
            obj=county,
            detail=changed,
        )
    return changed
