"""Account and role management (账号与角色管理), the security administrator's work (三权分立).

``may_manage_accounts`` is the one question: the security admin may, nobody else (not the
system admin, not the auditor). Every function here asks it first and raises
``PermissionDenied`` before anything is written; the pages and ``minqing users`` call these
functions. The command line passes ``by=COMMAND_LINE``: whoever runs it has the server's shell,
and the audit row says ``via: command``.

Disabling and enabling reuse ``accounts.services.user_disable/user_enable`` (sessions and tokens
end); the second factor is reset through ``otp.otp_remove``.
"""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from minqing.accounts.errors import AccountErrorCode
from minqing.accounts.models import Role, RoleAssignment, User
from minqing.accounts.scope import scope_for
from minqing.accounts.services import auth, otp
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.idcard import validate_phone

if TYPE_CHECKING:
    from minqing.org.models import Department, Node


class _CommandLine:
    """The operator at the server's shell (``minqing users``)."""

    pk = None
    username = ""
    is_authenticated = False

    def __repr__(self) -> str:
        return "COMMAND_LINE"


COMMAND_LINE = _CommandLine()

#: Who manages accounts: the security administrator, or the operator at the shell.
Actor = User | _CommandLine

#: Characters of a generated initial password (no look-alikes: it is read off a screen).
_PASSWORD_ALPHABET = (
    "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI") + "-_!@#%"
)


def may_manage_accounts(user: Actor | AnonymousUser) -> bool:
    """May ``user`` create, disable and enable accounts, reset passwords and second factors,
    and grant and revoke roles? Only the security administrator."""
    if isinstance(user, _CommandLine):
        return True
    return Role.SECURITY_ADMIN in scope_for(user).roles


def _check(by: Actor) -> None:
    if not may_manage_accounts(by):
        raise PermissionDenied(_("Only the security administrator manages accounts and roles."))


def _actor(by: Actor) -> User | None:
    return None if isinstance(by, _CommandLine) else by


def _via(by: Actor) -> dict[str, str]:
    return {"via": "command"} if isinstance(by, _CommandLine) else {}


def new_password(user: User | None = None) -> str:
    """A random password of 16 characters that passes every validator."""
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
        classes = (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
        if all(classes):
            try:
                validate_password(password, user)
            except ValidationError:
                continue
            return password


def user_create(
    *,
    by: Actor,
    username: str,
    full_name: str = "",
    phone: str = "",
    context: AuditContext | None = None,
) -> tuple[User, str]:
    """Make an account with a random initial password, returned to be shown once; the person
    must change it at the first login (``password_changed_at`` unset counts as expired)."""
    _check(by)
    username = auth.normalise_username(username or "")
    full_name = (full_name or "").strip()
    errors: dict[str, list[ValidationError]] = {}
    if not username:
        errors["username"] = [
            ValidationError(_("Enter a username."), code=AccountErrorCode.USERNAME_REQUIRED)
        ]
    elif len(username) > 150 or not all(c.isalnum() or c in "@.+-_" for c in username):
        errors["username"] = [
            ValidationError(
                _("A username has at most 150 letters, digits and the characters @ . + - _."),
                code=AccountErrorCode.USERNAME_INVALID,
            )
        ]
    elif User.objects.filter(username=username).exists():
        errors["username"] = [
            ValidationError(_("This username is taken."), code=AccountErrorCode.USERNAME_TAKEN)
        ]
    if len(full_name) > (User._meta.get_field("full_name").max_length or len(full_name)):
        errors["full_name"] = [
            ValidationError(_("The name is too long."), code=AccountErrorCode.NAME_TOO_LONG)
        ]
    if phone and phone.strip():
        try:
            phone = validate_phone(phone)
        except ValidationError as exc:
            errors["phone"] = [
                ValidationError(m, code=AccountErrorCode.PHONE_INVALID) for m in exc.messages
            ]
    if errors:
        raise ValidationError(errors)
    user = User(username=username, full_name=full_name, phone=phone.strip() or None)
    password = new_password(user)
    user.set_password(password)
    user.password_changed_at = None  # must change it at the first login
    try:
        with transaction.atomic():
            user.save()
            audit_record(
                action=AuditAction.ACCOUNT_CREATE,
                user=_actor(by),
                context=context,
                obj=user,
                detail={"user": username, **_via(by)},
            )
    except IntegrityError:
        raise ValidationError(
            {
                "username": ValidationError(
                    _("This username is taken."), code=AccountErrorCode.USERNAME_TAKEN
                )
            }
        ) from None
    return user, password


def user_disable(*, by: Actor, user: User, context: AuditContext | None = None) -> User:
    _check(by)
    if not isinstance(by, _CommandLine) and user.pk == by.pk:
        raise ValidationError(
            _("You cannot disable your own account."), code=AccountErrorCode.DISABLE_SELF
        )
    return auth.user_disable(user=user, by=_actor(by), context=context)


def user_enable(*, by: Actor, user: User, context: AuditContext | None = None) -> User:
    _check(by)
    return auth.user_enable(user=user, by=_actor(by), context=context)


def user_password_reset(*, by: Actor, user: User, context: AuditContext | None = None) -> str:
    """A new random password, returned to be shown once; the person must change it at the next
    login; their sessions end (the session hash follows the password) and tokens are revoked."""
    _check(by)
    password = new_password(user)
    with transaction.atomic():
        user.set_password(password)
        user.password_changed_at = None
        user.save(update_fields=["password", "password_changed_at"])
        audit_record(
            action=AuditAction.PASSWORD_RESET,
            user=_actor(by),
            context=context,
            obj=user,
            detail={"user": user.username, **_via(by)},
        )
        auth.password_changed(user=user, by=_actor(by) or user, context=context)
    return password


def user_otp_reset(*, by: Actor, user: User, context: AuditContext | None = None) -> bool:
    """Remove the user's authenticator and recovery codes (a lost phone)."""
    _check(by)
    return otp.otp_remove(user=user, by=_actor(by), context=context)


def role_grant(
    *,
    by: Actor,
    user: User,
    role: str,
    node: Node | None = None,
    department: Department | None = None,
    context: AuditContext | None = None,
) -> RoleAssignment:
    """Grant a role (``accounts.services.role_assign``: 三权分立 and the place checked there).

    A role that demands the second factor ends the person's sessions: a session that logged in
    with the password alone (the rule is decided at login) must not carry the new role."""
    _check(by)
    with transaction.atomic():
        assignment = auth.role_assign(
            user=user, role=role, node=node, department=department, by=_actor(by), context=context
        )
        if role in otp.required_roles():
            auth._end_sessions(user)
    return assignment


def role_revoke(
    *, by: Actor, assignment: RoleAssignment, context: AuditContext | None = None
) -> None:
    """Take a role away; audited as ``permission.revoke``. Scope is read per request, so the
    role stops applying at the user's next request."""
    _check(by)
    with transaction.atomic():
        deleted, _counts = RoleAssignment.objects.filter(pk=assignment.pk).delete()
        if deleted:
            audit_record(
                action=AuditAction.PERMISSION_REVOKE,
                user=_actor(by),
                context=context,
                obj=assignment.user,
                detail={
                    "role": assignment.role,
                    "node": assignment.node_id,
                    "department": assignment.department_id,
                    **_via(by),
                },
            )
