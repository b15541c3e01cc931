"""Account rules: login lockout (docs/SECURITY-BAR.md §3), role grants (docs/SECURITY-BAR.md §8) and
API tokens.

Failures are counted from the audit trail itself, so every path that audits a failed login
(web form, API token issue, bearer tokens, OTP) shares one lockout. Every path does the same
three things, in this order (so no spelling of a name escapes the lockout):

1. ``username = normalise_username(raw)`` — once, before anything is counted or audited;
2. ``login_guard(context, username, via=...)`` before the password is tried: refuses (and
   audits) a rate-limited address or name and a locked account;
3. ``login_failed(context, username, via=...)`` on a wrong password (audited as ``login``
   success False, counted per address and per name) or ``audit_record(action=LOGIN, ...)``
   on success.

Accounts end their sessions and tokens through ``user_disable`` and ``password_changed``
(docs/SECURITY-BAR.md §4); ``user_enable`` brings back neither.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.errors import AccountErrorCode
from minqing.accounts.models import (
    NODE_ROLES,
    SEPARATED_ROLES,
    ApiToken,
    Role,
    RoleAssignment,
    User,
)
from minqing.audit.actions import AuditAction
from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_record
from minqing.lib import ratelimit
from minqing.lib.context import AuditContext
from minqing.lib.errors import ErrorCode

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
    events = AuditEvent.objects.filter(username=username, action=AuditAction.LOGIN, at__gte=since)
    last_success = events.filter(success=True).order_by("-at").values_list("at", flat=True).first()
    failures = events.filter(success=False)
    if last_success is not None:
        failures = failures.filter(at__gt=last_success)
    return failures.count() >= LOCKOUT_FAILURES


class LoginRefused(Exception):
    """A login refused before its password was tried: locked account (``account.locked``) or a
    rate-limited address or name (``rate_limited``, HTTP 429). Already audited."""

    def __init__(self, message: str, code: StrEnum, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def _rate_limited(
    context: AuditContext, exc: ratelimit.RateLimited, detail: dict[str, Any]
) -> None:
    """Audit a limit's trip once per window and address or name, not every refused request."""
    who = detail.get("username") or context
    if ratelimit.first_in(f"audit:{exc.limit.name}", who, exc.limit.seconds):
        audit_record(
            action=AuditAction.RATE_LIMITED,
            context=context,
            success=False,
            username=str(detail.get("username", "")),
            detail={"limit": exc.limit.name, **detail},
        )


def login_guard(context: AuditContext, username: str, *, via: str) -> None:
    """Before a password (or OTP code) is tried: refuse a rate-limited client address or name,
    and a locked account. ``username`` must be ``normalise_username``'s answer."""
    for name, who in (("login.address", context), ("login.username", f"name:{username}")):
        try:
            ratelimit.check(name, who)
        except ratelimit.RateLimited as exc:
            _rate_limited(context, exc, {"via": via, "username": username})
            raise LoginRefused(exc.message, ErrorCode.RATE_LIMITED, 429) from None
    if username and is_locked_out(username):
        ratelimit.hit("login.address", context)
        ratelimit.hit("login.username", f"name:{username}")
        audit_record(
            action=AuditAction.LOGIN_LOCKED,
            context=context,
            success=False,
            username=username,
            detail={"via": via},
        )
        raise LoginRefused(
            _("Too many failed attempts. This account is locked for %(minutes)d minutes.")
            % {"minutes": LOCKOUT_PERIOD.seconds // 60},
            AccountErrorCode.LOCKED,
            403,
        )


def login_failed(context: AuditContext | None, username: str, *, via: str, **detail: Any) -> None:
    """A wrong password or code for ``username`` (normalised): audited and counted (per client
    address when the context names one: the command line and tests may pass ``None``)."""
    if context is not None:
        ratelimit.hit("login.address", context)
    if username:
        ratelimit.hit("login.username", f"name:{username}")
    audit_record(
        action=AuditAction.LOGIN,
        context=context,
        success=False,
        username=username,
        detail={"via": via, **detail},
    )


def _end_sessions(user: User) -> int:
    """Delete the database sessions that belong to ``user``; returns how many."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def _end_tokens(
    user: User, *, by: User | None, context: AuditContext | None, reason: str
) -> list[str]:
    """Revoke every usable token of ``user``: one audit row per token."""
    now = timezone.now()
    prefixes = []
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    for token in live.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)):
        api_token_revoke(token=token, by=by, context=context, reason=reason)
        prefixes.append(token.prefix)
    live.update(revoked_at=now)  # the expired ones too, silently: they could not be used
    return prefixes


def user_disable(*, user: User, by: User | None, context: AuditContext | None = None) -> User:
    """Disable an account (docs/SECURITY-BAR.md §4): its sessions and API tokens end now and
    re-enabling it brings neither back (the session hash includes ``auth_epoch``; tokens are
    revoked)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            is_active=False, auth_epoch=models.F("auth_epoch") + 1
        )
        user.refresh_from_db(fields=["is_active", "auth_epoch"])
        prefixes = _end_tokens(user, by=by, context=context, reason="disabled")
        sessions = _end_sessions(user)
        audit_record(
            action=AuditAction.ACCOUNT_DISABLE,
            user=by,
            context=context,
            obj=user,
            detail={"user": user.username, "tokens": prefixes, "sessions": sessions},
        )
    return user


def user_enable(*, user: User, by: User | None, context: AuditContext | None = None) -> User:
    """Enable an account again: the person logs in afresh; old sessions and tokens stay ended."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=True)
        user.refresh_from_db(fields=["is_active"])
        audit_record(
            action=AuditAction.ACCOUNT_ENABLE,
            user=by,
            context=context,
            obj=user,
            detail={"user": user.username},
        )
    return user


@receiver(pre_save, sender=User, dispatch_uid="minqing_password_watch")
def _password_watch(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    """Note whether this save writes a new password (however it was set: a page, a command,
    the shell), so that ``_password_saved`` ends the account's tokens."""
    instance._minqing_password_changed = bool(  # type: ignore[attr-defined]
        instance.pk
        and (update_fields is None or "password" in update_fields)
        and User.objects.filter(pk=instance.pk).exclude(password=instance.password).exists()
    )


@receiver(post_save, sender=User, dispatch_uid="minqing_password_saved")
def _password_saved(sender: Any, instance: User, created: bool = False, **kwargs: Any) -> None:
    """A new password revokes every token of the account (a leaked one ends with it), audited."""
    if getattr(instance, "_minqing_password_changed", False):
        instance._minqing_password_changed = False  # type: ignore[attr-defined]
        revoked = _end_tokens(instance, by=None, context=None, reason="password_changed")
        instance._minqing_tokens_revoked = revoked  # type: ignore[attr-defined]


def password_changed(
    *, user: User, by: User | None = None, context: AuditContext | None = None
) -> None:
    """After ``user``'s password was set (and saved): audited; their API tokens are revoked
    (already by the save, see ``_password_saved``) and their other sessions end (Django's
    session hash follows the password; the one making the change keeps theirs through
    ``update_session_auth_hash``)."""
    with transaction.atomic():
        prefixes = getattr(user, "_minqing_tokens_revoked", [])
        prefixes += _end_tokens(user, by=by or user, context=context, reason="password_changed")
        audit_record(
            action=AuditAction.PASSWORD_CHANGE,
            user=by or user,
            context=context,
            obj=user,
            detail={"user": user.username, "tokens": prefixes},
        )


def role_assign(
    *,
    user: User,
    role: str,
    node: Node | None = None,
    department: Department | None = None,
    by: User | None = None,
    context: AuditContext | None = None,
) -> RoleAssignment:
    """Give ``user`` a role over a node or a department; audited as a permission change.

    Node roles need a node, the department role a department; 三权分立: the auditor, security
    admin and system admin roles exclude every other role on the same account.
    """
    if role not in Role.values:
        raise ValidationError(
            {
                "role": ValidationError(
                    _("Unknown role %(role)s.") % {"role": role}, code=AccountErrorCode.UNKNOWN_ROLE
                )
            }
        )
    if role in NODE_ROLES and node is None:
        raise ValidationError(
            {
                "node": ValidationError(
                    _("This role needs a place in the organisation tree."),
                    code=AccountErrorCode.ROLE_NEEDS_NODE,
                )
            }
        )
    if role in (Role.DEPARTMENT, Role.CO_BUILDING_UNIT) and department is None:
        raise ValidationError(
            {
                "department": ValidationError(
                    _("This role needs a department."), code=AccountErrorCode.ROLE_NEEDS_DEPARTMENT
                )
            }
        )
    if role in SEPARATED_ROLES and (node is not None or department is not None):
        raise ValidationError(
            {
                "role": ValidationError(
                    _("This role applies to the whole system, not a place."),
                    code=AccountErrorCode.ROLE_SYSTEM_WIDE,
                )
            }
        )
    held = set(user.roles.values_list("role", flat=True))
    if (role in SEPARATED_ROLES and held - {role}) or (held & SEPARATED_ROLES and role not in held):
        raise ValidationError(
            {
                "role": ValidationError(
                    _(
                        "Auditor, security admin and system admin cannot be combined with any "
                        "other role on one account."
                    ),
                    code=AccountErrorCode.ROLES_SEPARATED,
                )
            }
        )
    with transaction.atomic():
        assignment, _created = RoleAssignment.objects.get_or_create(
            user=user, role=role, node=node, department=department
        )
        audit_record(
            action=AuditAction.PERMISSION_GRANT,
            user=by,
            context=context,
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
    by: User | None = None,
    context: AuditContext | None = None,
) -> tuple[ApiToken, str]:
    """Make a bearer token for ``user``; returns the row and the secret, which is never stored.

    The caller shows the secret once; afterwards only its prefix identifies the token. Without
    ``expires_days`` it lasts ``MINQING_API_TOKEN_DAYS`` (90 by default; 0 there = no end).
    """
    name = name.strip()
    if expires_days is None:
        expires_days = int(getattr(settings, "MINQING_API_TOKEN_DAYS", 90)) or None
    if not user.is_active:
        raise ValidationError(
            {
                "user": ValidationError(
                    _("This account is disabled."), code=AccountErrorCode.DISABLED
                )
            }
        )
    if len(name) > (ApiToken._meta.get_field("name").max_length or len(name)):
        raise ValidationError(
            {
                "name": ValidationError(
                    _("The name is too long."), code=AccountErrorCode.NAME_TOO_LONG
                )
            }
        )
    if expires_days is not None and expires_days < 1:
        raise ValidationError(
            {
                "expires_days": ValidationError(
                    _("A token must be valid for at least one day."),
                    code=AccountErrorCode.TOKEN_DAYS,
                )
            }
        )
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
            action=AuditAction.API_TOKEN_ISSUE,
            user=by,
            context=context,
            obj=token,
            detail={
                "user": user.username,
                "name": name,
                "prefix": token.prefix,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            },
        )
    return token, key


def api_token_revoke(
    *,
    token: ApiToken,
    by: User | None,
    context: AuditContext | None = None,
    reason: str = "revoked",
) -> ApiToken:
    """Stop a token from working; revoking it again changes nothing and writes no row."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if revoked:
            audit_record(
                action=AuditAction.API_TOKEN_REVOKE,
                user=by,
                context=context,
                obj=token,
                detail={"user": token.user.username, "prefix": token.prefix, "reason": reason},
            )
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_refusal(key: str) -> tuple[ApiToken | None, str]:
    """The token for ``key`` and why it may not be used ("" when it may).

    Refused: unknown, revoked or expired tokens and every token of a disabled account
    (docs/SECURITY-BAR.md §4). A password change revoked the older ones (``_password_saved``).
    """
    if not key.startswith(API_TOKEN_PREFIX) or len(key) > 200:
        return None, "malformed"
    token = ApiToken.objects.select_related("user").filter(key_hash=_api_token_digest(key)).first()
    now = timezone.now()
    if token is None:
        return None, "unknown"
    if token.revoked_at is not None:
        return token, "revoked"
    if not token.is_usable(now):
        return token, "expired"
    if not token.user.is_active:
        return token, "disabled"
    return token, ""


def api_token_login(
    *, context: AuditContext, username: str, password: str, name: str = "", otp: str = ""
) -> tuple[ApiToken, str]:
    """``POST /api/v1/auth/token/``: a login path like the web form (same normal form, limits,
    lockout and audit), answering a new bearer token instead of a session.

    Raises ``LoginRefused`` (status 401 wrong credentials or missing code, 403 locked or
    password expired, 429 rate limited); nothing is issued then.
    """
    from django.contrib.auth import authenticate

    try:
        ratelimit.consume("api_token.issue", context)
    except ratelimit.RateLimited as exc:
        _rate_limited(context, exc, {"via": "api_token"})
        raise LoginRefused(exc.message, ErrorCode.RATE_LIMITED, 429) from None
    username = normalise_username(username)[:150]
    wrong = _("Wrong username or password.")
    if not username or not password:
        raise LoginRefused(wrong, AccountErrorCode.WRONG_CREDENTIALS, 401)
    login_guard(context, username, via="api_token")
    user = authenticate(None, username=username, password=password)
    if user is None:
        login_failed(context, username, via="api_token")
        raise LoginRefused(wrong, AccountErrorCode.WRONG_CREDENTIALS, 401)
    from minqing.accounts.services import otp as second_factor

    if second_factor.otp_needed(user):
        if not otp.strip():
            raise LoginRefused(
                _("This account also needs the code from its authenticator app (otp)."),
                AccountErrorCode.OTP_REQUIRED,
                401,
            )
        outcome = second_factor.otp_verify(user=user, code=otp, context=context)
        if outcome is second_factor.Outcome.LOCKED:
            raise LoginRefused(
                _("Too many failed attempts. This account is locked for %(minutes)d minutes.")
                % {"minutes": LOCKOUT_PERIOD.seconds // 60},
                AccountErrorCode.LOCKED,
                403,
            )
        if outcome is second_factor.Outcome.WRONG:
            raise LoginRefused(
                _("The code is wrong or was already used."), AccountErrorCode.OTP_WRONG, 401
            )
    if user.password_expired(settings.MINQING_PASSWORD_EXPIRY_DAYS):
        raise LoginRefused(
            _("Password expired: change it on the web page first."),
            AccountErrorCode.PASSWORD_EXPIRED,
            403,
        )
    with transaction.atomic():
        audit_record(
            action=AuditAction.LOGIN, user=user, context=context, detail={"via": "api_token"}
        )
        return api_token_issue(user=user, name=name or "API", by=user, context=context)


class BearerRefused(Exception):
    """A bearer token that works but may not be used now (the password expired): 403."""


def bearer_authenticate(context: AuditContext, key: str) -> ApiToken | None:
    """The API's bearer check: the token for ``key``, or None (then the answer is a 401).

    Per client address, failed tokens are counted (``bearer.address``): past the limit every
    bearer request from there is refused (``ratelimit.RateLimited``, 429) until the window
    passes. Failures are audited as ``login`` success False ``via: bearer`` — the first per
    address each minute and the limit's trip, so a flood of unknown tokens writes a few rows,
    not one per request. A working token whose user's password expired raises
    ``BearerRefused`` (403), as the session gets (PasswordExpiryMiddleware).
    """
    try:
        ratelimit.check("bearer.address", context)
    except ratelimit.RateLimited as exc:
        _rate_limited(context, exc, {"via": "bearer"})
        raise
    token, refusal = api_token_refusal(key)
    if refusal:
        used = ratelimit.hit("bearer.address", context)
        if ratelimit.first_in("audit:bearer.failure", context, 60):
            audit_record(
                action=AuditAction.LOGIN,
                context=context,
                success=False,
                username="",
                detail={
                    "via": "bearer",
                    "reason": refusal,
                    "prefix": key[: len(API_TOKEN_PREFIX) + 8] if token else "",
                    "failures": used,
                },
            )
        return None
    assert token is not None
    if token.user.password_expired(settings.MINQING_PASSWORD_EXPIRY_DAYS):
        raise BearerRefused(_("Password expired: change it on the web page first."))
    return _api_token_touch(token)


def api_token_authenticate(key: str) -> ApiToken | None:
    """The usable token for ``key`` (its ``user`` loaded), or None (see ``api_token_refusal``).

    ``last_used_at`` moves at most once per ``API_TOKEN_TOUCH_INTERVAL``.
    """
    token, refusal = api_token_refusal(key)
    if token is None or refusal:
        return None
    return _api_token_touch(token)


def _api_token_touch(token: ApiToken) -> ApiToken:
    now = timezone.now()
    stale = now - API_TOKEN_TOUCH_INTERVAL
    if token.last_used_at is None or token.last_used_at <= stale:
        # Conditional UPDATE: concurrent requests of one token write once between them.
        ApiToken.objects.filter(pk=token.pk).filter(
            models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
