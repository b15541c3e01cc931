"""Account rules: login lockout (SECURITY.md 3) and role grants (SECURITY.md 8).

Failures are counted from the audit trail itself, so every path that audits a failed login
(web form today, API tokens and OTP later) shares one lockout.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import NODE_ROLES, SEPARATED_ROLES, Role, RoleAssignment, User
from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_record

if TYPE_CHECKING:
    from minqing.org.models import Department, Node

LOCKOUT_FAILURES = 5
LOCKOUT_PERIOD = dt.timedelta(minutes=15)


def is_locked_out(username: str) -> bool:
    """Five failures since the last success within 15 minutes lock the account."""
    since = timezone.now() - LOCKOUT_PERIOD
    events = AuditEvent.objects.filter(username=username, action="login", at__gte=since)
    last_success = events.filter(success=True).order_by("-at").values_list("at", flat=True).first()
    failures = events.filter(success=False)
    if last_success is not None:
        failures = failures.filter(at__gt=last_success)
    return failures.count() >= LOCKOUT_FAILURES


def role_assign(
    *,
    user: User,
    role: str,
    node: Node | None = None,
    department: Department | None = None,
    by: Any = None,
    request: Any = None,
) -> RoleAssignment:
    """Give ``user`` a role over a node or a department; audited as a permission change.

    Node roles need a node, the department role a department; 三权分立: the auditor, security
    admin and system admin roles exclude every other role on the same account.
    """
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role %(role)s.") % {"role": role}})
    if role in NODE_ROLES and node is None:
        raise ValidationError({"node": _("This role needs a place in the organisation tree.")})
    if role in (Role.DEPARTMENT, Role.CO_BUILDING_UNIT) and department is None:
        raise ValidationError({"department": _("This role needs a department.")})
    if role in SEPARATED_ROLES and (node is not None or department is not None):
        raise ValidationError({"role": _("This role applies to the whole system, not a place.")})
    held = set(user.roles.values_list("role", flat=True))
    if (role in SEPARATED_ROLES and held - {role}) or (held & SEPARATED_ROLES and role not in held):
        raise ValidationError(
            {
                "role": _(
                    "Auditor, security admin and system admin cannot be combined with any "
                    "other role on one account."
                )
            }
        )
    with transaction.atomic():
        assignment, _created = RoleAssignment.objects.get_or_create(
            user=user, role=role, node=node, department=department
        )
        audit_record(
            action="permission.grant",
            user=by,
            request=request,
            obj=user,
            detail={
                "role": role,
                "node": getattr(node, "pk", None),
                "department": getattr(department, "pk", None),
            },
        )
    return assignment
