"""Account rules: login lockout (SECURITY.md 3), role grants (SECURITY.md 8) and API tokens.

Failures are counted from the audit trail itself, so every path that audits a failed login
(web form today, API tokens and OTP later) shares one lockout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import (
    NODE_ROLES,
    SEPARATED_ROLES,
    ApiToken,
    Role,
    RoleAssignment,
    User,
)
from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_record

if TYPE_CHECKING:
    from minqing.org.models import Department, Node

LOCKOUT_FAILURES = 5
LOCKOUT_PERIOD = dt.timedelta(minutes=15)

#: Every token starts with this, so a leaked one is easy to grep for in logs and repositories.
API_TOKEN_PREFIX = "mq_"  # noqa: S105 - a public marker, not a secret
#: ``last_used_at`` is written at most this often: no write on every API request.
API_TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)


def normalise_username(raw: str) -> str:
    """The one spelling of a username: stripped, NFKC, case-folded (Unicode's NFKC_Casefold).

    Accounts are stored under it and every login path counts, audits and looks up under it, so
    ``"grid "``, ``"GRID"`` and ``"ｇｒｉｄ"`` are one account with one failure count.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())
    return folded.strip()


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


def _api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_issue(
    *,
    user: User,
    name: str = "",
    expires_days: int | None = None,
    by: Any = None,
    request: Any = None,
) -> tuple[ApiToken, str]:
    """Make a bearer token for ``user``; returns the row and the secret, which is never stored.

    The caller shows the secret once; afterwards only its prefix identifies the token.
    """
    name = name.strip()
    if not user.is_active:
        raise ValidationError({"user": _("This account is disabled.")})
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValidationError({"name": _("The name is too long.")})
    if expires_days is not None and expires_days < 1:
        raise ValidationError({"expires_days": _("A token must be valid for at least one day.")})
    key = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=key[: len(API_TOKEN_PREFIX) + 8],
            key_hash=_api_token_digest(key),
            created_at=now,
            expires_at=now + dt.timedelta(days=expires_days) if expires_days else None,
        )
        audit_record(
            action="api_token.issue",
            user=by,
            request=request,
            obj=token,
            detail={
                "user": user.username,
                "name": name,
                "prefix": token.prefix,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            },
        )
    return token, key


def api_token_revoke(*, token: ApiToken, by: Any, request: Any = None) -> ApiToken:
    """Stop a token from working; revoking it again changes nothing and writes no row."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if revoked:
            audit_record(
                action="api_token.revoke",
                user=by,
                request=request,
                obj=token,
                detail={"user": token.user.username, "prefix": token.prefix},
            )
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(key: str) -> ApiToken | None:
    """The usable token for ``key`` (its ``user`` loaded), or None.

    Refused: unknown, revoked or expired tokens, and every token of a disabled account
    (SECURITY.md 4). ``last_used_at`` moves at most once per ``API_TOKEN_TOUCH_INTERVAL``.
    """
    if not key.startswith(API_TOKEN_PREFIX) or len(key) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_api_token_digest(key)).first()
    now = timezone.now()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    stale = now - API_TOKEN_TOUCH_INTERVAL
    if token.last_used_at is None or token.last_used_at <= stale:
        # Conditional UPDATE: concurrent requests of one token write once between them.
        ApiToken.objects.filter(pk=token.pk).filter(
            models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
