"""The county's issue settings: the category taxonomy (and the department each routes to) and
the deadline per colour × complexity. Kept by the command centre or the system admin; audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.accounts.permissions import covers_every_county
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import Category, DeadlineRule
from minqing.issues.permissions import require
from minqing.lib.context import AuditContext

SETTINGS_ROLES = frozenset({Role.COMMAND_CENTRE, Role.SYSTEM_ADMIN})
MAX_WORKDAYS = 60
MAX_MONTHS = 6


def can_edit_settings(user: Any) -> bool:
    return covers_every_county(user, SETTINGS_ROLES)


def category_save(
    *,
    by: User,
    data: dict[str, Any],
    category: Category | None = None,
    context: AuditContext | None = None,
) -> Category:
    """Add a category or change one (name, English name, urban/rural, department, active)."""
    require(can_edit_settings(by), _("Only the command centre edits the categories."))
    fields = ("code", "name", "name_en", "kind", "department_code", "active", "sort_key")
    with transaction.atomic():
        category = (
            Category()
            if category is None
            else Category.objects.select_for_update().get(pk=category.pk)
        )
        before = {f: getattr(category, f) for f in fields}
        for field in fields:
            if field in data and not (field == "code" and category.pk):
                setattr(category, field, data[field])
        category.full_clean()
        if category.pk is None and Category.objects.filter(code=category.code).exists():
            raise field_error(
                "code",
                _("A category with this code exists already."),
                IssueErrorCode.CATEGORY_CODE_TAKEN,
            )
        category.save()
        changed = {
            f: [str(before[f]), str(getattr(category, f))]
            for f in fields
            if before[f] != getattr(category, f)
        }
        audit_record(
            action=AuditAction.ISSUE_CATEGORY_SAVE,
            user=by,
            context=context,
            obj=category,
            detail=changed,
        )
    return category


def deadline_rule_save(
    *, by: User, rule: DeadlineRule, amount: int, unit: str, context: AuditContext | None = None
) -> DeadlineRule:
    """Change how long a colour × complexity has; applies to stages started from now on."""
    require(can_edit_settings(by), _("Only the command centre edits the deadlines."))
    if unit not in dict(DeadlineRule.UNITS):
        raise field_error("unit", _("Choose working days or months."), IssueErrorCode.RULE_UNIT)
    limit = MAX_WORKDAYS if unit == "workdays" else MAX_MONTHS
    if not isinstance(amount, int) or not 0 <= amount <= limit:
        raise field_error(
            "amount", _("Between 0 and %(n)d.") % {"n": limit}, IssueErrorCode.RULE_AMOUNT
        )
    if unit == "months" and amount == 0:
        raise field_error("amount", _("At least one month."), IssueErrorCode.RULE_AMOUNT)
    with transaction.atomic():
        rule = DeadlineRule.objects.select_for_update().get(pk=rule.pk)
        old = (rule.amount, rule.unit)
        rule.amount, rule.unit = amount, unit
        rule.save(update_fields=["amount", "unit"])
        audit_record(
            action=AuditAction.ISSUE_DEADLINE_RULE_SAVE,
            user=by,
            context=context,
            obj=rule,
            detail={
                "colour": rule.colour,
                "complexity": rule.complexity,
                "from": old,
                "to": [amount, unit],
            },
        )
    return rule
