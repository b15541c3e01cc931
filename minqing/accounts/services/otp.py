"""Second factor (docs/SECURITY-BAR.md §5): TOTP (RFC 6238) with one-time recovery codes.

The algorithm is pyotp's (maintained, no dependencies, RFC 6238/4226 only); the device, the
encrypted secret, replay refusal and the lockout are ours, because django-otp's TOTP device keeps
its key in a plain column and counts failures apart from the login lockout.

Who must pass it: every user holding a role in ``MINQING_OTP_REQUIRED_ROLES``, and every user who
enrolled an authenticator of their own accord. Whether the second factor is needed is decided
when the session logs in (``user_logged_in``), so a role granted later applies from the next
login. Until the code is entered, ``SecondFactorMiddleware`` lets the session reach only the
enrol/verify pages, logout and the public pages.

Wrong codes are audited as failed logins (``detail={"via": "otp"}``), so the one lockout
(``accounts.services.is_locked_out``) counts them with the password failures: five lock the
account for 15 minutes, on every path. Because a right password resets that count, the OTP step
also counts its own failures since the last right code: logging in again with the password does
not buy more guesses. A code is accepted for one time step only once (``last_step``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import Enum
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.errors import AccountErrorCode
from minqing.accounts.models import RecoveryCode, TotpDevice, User
from minqing.accounts.scope import scope_for
from minqing.accounts.services.auth import (
    LOCKOUT_FAILURES,
    LOCKOUT_PERIOD,
    LoginRefused,
    is_locked_out,
    login_failed,
    login_guard,
)
from minqing.audit.actions import AuditAction
from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_record
from minqing.lib.context import AuditContext

ISSUER = "Minqing"
#: Codes of the step before and after the current one are accepted too (phone clocks drift).
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
#: No 0/O, 1/I/L: a code copied from paper is read back right.
_RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

#: Session key: "pending" (the code is still to be entered), "verified", or "none" (not needed).
SESSION_KEY = "minqing_otp"
PENDING, VERIFIED, NOT_NEEDED = "pending", "verified", "none"


class Outcome(Enum):
    OK = "ok"
    RECOVERY_CODE = "recovery_code"
    WRONG = "wrong"
    LOCKED = "locked"


# --------------------------------------------------------------------------- who needs it


def required_roles() -> frozenset[str]:
    return frozenset(getattr(settings, "MINQING_OTP_REQUIRED_ROLES", ()))


def required_by_role(user: Any) -> bool:
    """Does one of ``user``'s roles demand the second factor?"""
    return bool(scope_for(user).roles & required_roles())


def confirmed_device(user: Any) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def otp_needed(user: Any) -> bool:
    return required_by_role(user) or confirmed_device(user) is not None


@receiver(user_logged_in, dispatch_uid="minqing_otp_on_login")
def _on_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """Every new login starts without the second factor, if one is needed."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = PENDING if otp_needed(user) else NOT_NEEDED


def session_state(request: Any) -> str:
    """The session's second-factor state; a session from before the rule is decided now."""
    state = request.session.get(SESSION_KEY)
    if state not in (PENDING, VERIFIED, NOT_NEEDED):
        state = PENDING if otp_needed(request.user) else NOT_NEEDED
        request.session[SESSION_KEY] = state
    return state


def mark_verified(request: Any) -> None:
    """The session passed the second factor: a new session key, as after any login."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = VERIFIED


# --------------------------------------------------------------------------- codes


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _digits(code: str) -> str:
    return "".join(str(code).split())


def _matching_step(secret: str, code: str) -> int | None:
    """The time step ``code`` is right for (now, or one step either side), or None."""
    code = _digits(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = _totp(secret)
    now = timezone.now()
    current = totp.timecode(now)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
            return current + offset
    return None


def _recovery_digest(code: str) -> str:
    normal = "".join(ch for ch in str(code).upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    codes = [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.filter(user=user).delete()
    now = timezone.now()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=_recovery_digest(code), created_at=now) for code in codes
    )
    return codes


def otp_locked_out(username: str) -> bool:
    """The shared lockout, or five wrong codes since the last right one within 15 minutes."""
    if is_locked_out(username):
        return True
    events = AuditEvent.objects.filter(
        username=username, action=AuditAction.LOGIN, at__gte=timezone.now() - LOCKOUT_PERIOD
    ).filter(detail__via="otp")
    last_ok = events.filter(success=True).order_by("-at").values_list("at", flat=True).first()
    failures = events.filter(success=False)
    if last_ok is not None:
        failures = failures.filter(at__gt=last_ok)
    return failures.count() >= LOCKOUT_FAILURES


def _failure(user: User, context: AuditContext | None, *, reason: str) -> None:
    """Audited as a failed login and counted by the login rate limits, like a wrong password."""
    login_failed(context, user.username, via="otp", reason=reason)


def _refusal(user: User, context: AuditContext | None) -> Outcome | None:
    """LOCKED before a code is even tried (audited), else None. Past the login rate limits
    (per client address and per name, ``lib.ratelimit``) ``LoginRefused`` (429) is raised."""
    if otp_locked_out(user.username):
        audit_record(
            action=AuditAction.LOGIN_LOCKED,
            context=context,
            user=user,
            success=False,
            username=user.username,
            detail={"via": "otp"},
        )
        return Outcome.LOCKED
    if context is not None:
        try:  # the login limits per client address and per name count code attempts too
            login_guard(context, user.username, via="otp")
        except LoginRefused as exc:
            if exc.code == AccountErrorCode.LOCKED:
                return Outcome.LOCKED
            raise
    return None


# --------------------------------------------------------------------------- enrolment


def otp_enrol_start(*, user: User) -> TotpDevice:
    """The user's unconfirmed authenticator (made now, or the one made earlier: a page reload
    keeps the secret the phone scanned). Refused while a confirmed one exists."""
    device = TotpDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed_at is not None:
        raise ValidationError(
            _("An authenticator is already set up for this account."),
            code=AccountErrorCode.OTP_ALREADY_SET_UP,
        )
    if device is None:
        device = TotpDevice.objects.create(user=user, secret=pyotp.random_base32(length=32))
    return device


def provisioning_uri(device: TotpDevice) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return _totp(device.secret.reveal()).provisioning_uri(
        name=device.user.username, issuer_name=ISSUER
    )


def otp_enrol_confirm(
    *, user: User, code: str, context: AuditContext | None = None
) -> tuple[Outcome, list[str]]:
    """Confirm the new authenticator with its first code; returns the recovery codes, which
    are shown once. A wrong code is a failed login like any other."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        raise ValidationError(_("Start the set-up again."), code=AccountErrorCode.OTP_RESTART)
    if (refused := _refusal(user, context)) is not None:
        return refused, []
    step = _matching_step(device.secret.reveal(), code)
    if step is None:
        _failure(user, context, reason="enrol")
        return Outcome.WRONG, []
    with transaction.atomic():
        TotpDevice.objects.filter(pk=device.pk).update(confirmed_at=timezone.now(), last_step=step)
        codes = _new_recovery_codes(user)
        audit_record(action=AuditAction.OTP_ENROL, user=user, context=context, obj=user)
        audit_record(action=AuditAction.LOGIN, user=user, context=context, detail={"via": "otp"})
    return Outcome.OK, codes


def recovery_codes_renew(*, user: User, context: AuditContext | None = None) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    if confirmed_device(user) is None:
        raise ValidationError(
            _("Set up an authenticator first."), code=AccountErrorCode.OTP_NOT_SET_UP
        )
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit_record(action=AuditAction.OTP_RECOVERY_CODES, user=user, context=context, obj=user)
    return codes


# --------------------------------------------------------------------------- verification


def otp_verify(*, user: User, code: str, context: AuditContext | None = None) -> Outcome:
    """Check a code from the authenticator, or a recovery code (each works once).

    Locked accounts are refused whatever the code; every wrong or replayed code is audited as a
    failed login (``via: otp``).
    """
    device = confirmed_device(user)
    if device is None:
        raise ValidationError(
            _("No authenticator is set up for this account."), code=AccountErrorCode.OTP_NOT_SET_UP
        )
    if (refused := _refusal(user, context)) is not None:
        return refused
    step = _matching_step(device.secret.reveal(), code)
    with transaction.atomic():
        if step is not None:
            # Conditional UPDATE: a code (or an older one) already used is refused, even when
            # two requests race with the same code.
            if TotpDevice.objects.filter(pk=device.pk, last_step__lt=step).update(last_step=step):
                audit_record(
                    action=AuditAction.LOGIN, user=user, context=context, detail={"via": "otp"}
                )
                return Outcome.OK
            _failure(user, context, reason="replay")
            return Outcome.WRONG
        used = RecoveryCode.objects.filter(
            user=user, code_hash=_recovery_digest(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        if used:
            left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
            audit_record(
                action=AuditAction.LOGIN,
                user=user,
                context=context,
                detail={"via": "otp", "recovery_code": True, "recovery_codes_left": left},
            )
            return Outcome.RECOVERY_CODE
    _failure(user, context, reason="wrong")
    return Outcome.WRONG


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def otp_remove(*, user: User, by: User | None, context: AuditContext | None = None) -> bool:
    """Delete the user's authenticator and recovery codes (a lost phone): the next login sets
    up a new one where the role requires it. Callers check who may (``services_admin``)."""
    with transaction.atomic():
        removed, _counts = TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        audit_record(
            action=AuditAction.OTP_RESET,
            user=by,
            context=context,
            obj=user,
            detail={"had": bool(removed)},
        )
    return bool(removed)
