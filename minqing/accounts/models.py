"""User accounts, roles and their scope (docs/DOMAIN.md, "Who uses it")."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.lib.fields import BlindIndexField, EncryptedField, SealIdField


class Role(models.TextChoices):
    """What a person does; each assignment scopes it to a tree node or a department."""

    COMMAND_CENTRE = "command_centre", _("County organisation dept / command centre")
    DEPARTMENT = "department", _("County department staff")
    TOWN_STAFF = "town_staff", _("Town/street staff")
    VILLAGE_CADRE = "village_cadre", _("Village/community cadre")
    GRID_WORKER = "grid_worker", _("Grid worker")
    GROUP_LEADER = "group_leader", _("Residents' group leader")
    REPRESENTATIVE = "representative", _("Villagers' representative")
    PARTY_MEMBER = "party_member", _("Party member")
    CO_BUILDING_UNIT = "co_building_unit", _("Co-building unit")
    AUDITOR = "auditor", _("Auditor")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    SYSTEM_ADMIN = "system_admin", _("System administrator")


#: Roles scoped to a node of the tree (they see that subtree's households).
NODE_ROLES = frozenset(
    {
        Role.COMMAND_CENTRE,
        Role.TOWN_STAFF,
        Role.VILLAGE_CADRE,
        Role.GRID_WORKER,
        Role.GROUP_LEADER,
        Role.REPRESENTATIVE,
        Role.PARTY_MEMBER,
    }
)
#: 三权分立: each of these excludes every other role on the same account.
SEPARATED_ROLES = frozenset({Role.AUDITOR, Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN})
#: Roles that may see full (unmasked) personal data after an audited reveal, and export it.
REVEAL_ROLES = frozenset(
    {Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE, Role.GRID_WORKER, Role.GROUP_LEADER}
)
#: Roles that may edit household archives and import ledgers.
ARCHIVE_EDIT_ROLES = frozenset(
    {Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE, Role.GRID_WORKER}
)
#: Roles that may see records of minors under 14 (docs/SECURITY-BAR.md §12).
MINOR_ROLES = frozenset({Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE})


class UserManager(DjangoUserManager["User"]):
    def _create_user(
        self, username: str, email: str | None, password: str | None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("password_changed_at", timezone.now())
        # A private method of Django's manager that django-stubs does not declare.
        return super()._create_user(username, email, password, **extra_fields)  # type: ignore[misc]

    def get_by_natural_key(self, username: str | None) -> User:
        """Logins look the account up by the normal form (docs/SECURITY-BAR.md §1, §3)."""
        return self.get(username=self.model.normalize_username(username or ""))


class User(AbstractUser):
    """账号 — one person's login; the person's name and phone are on the account."""

    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    seal_id = SealIdField()  # the row its encrypted values are bound to
    phone = EncryptedField(_("phone"), kind="phone")
    phone_hash = BlindIndexField(source="phone", purpose="phone")
    password_changed_at = models.DateTimeField(_("password changed at"), null=True, blank=True)
    #: Bumped when the account is disabled: every session signed before it stops working, so
    #: re-enabling the account brings none back (``accounts.services.user_disable``).
    auth_epoch = models.PositiveIntegerField(default=0, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [models.Index(fields=["phone_hash"], name="user_phone_hash")]
        constraints = [
            # Usernames are stored in their normal form (strip, NFKC, casefold); the database
            # refuses a second spelling of one name even from a path that skips ``save``.
            models.UniqueConstraint(Lower("username"), name="user_username_lower_unique"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    @classmethod
    def normalize_username(cls, username: Any) -> Any:
        from minqing.accounts.services import normalise_username

        return normalise_username(username) if isinstance(username, str) else username

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.username = self.normalize_username(self.username)
        super().save(*args, **kwargs)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's hash of the password, plus the epoch once the account was ever disabled
        (so the fallback-key hashes carry it too)."""
        if not self.auth_epoch:
            # Private in Django (the session's hash), not declared by django-stubs.
            return super()._get_session_auth_hash(secret=secret)  # type: ignore[misc]
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "minqing.accounts.User.get_session_auth_hash",
            f"{self.password}:{self.auth_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def set_password(self, raw_password: str | None) -> None:
        """Every new password restarts the expiry clock (docs/SECURITY-BAR.md §2)."""
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()

    def check_password(self, raw_password: str | None) -> bool:
        """Django's check, except that re-encoding a right password with the preferred hasher
        (Django does it on the first login after its hashing settings change) is not a new
        password: the hash is written alone, without the ``save`` signals, so the expiry clock
        does not restart and the account's tokens stay (``services.auth._password_saved``)."""

        def rehash(raw: str) -> None:
            AbstractUser.set_password(self, raw)  # the hash only, not the clock
            self._password = None
            type(self)._default_manager.filter(pk=self.pk).update(password=self.password)

        return check_password(raw_password, self.password, rehash)

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self.password_changed_at = timezone.now()

    def password_expired(self, days: int) -> bool:
        if days <= 0:
            return False
        changed = self.password_changed_at
        return changed is None or timezone.now() - changed > dt.timedelta(days=days)


class RoleAssignment(models.Model):
    """角色 — a role held by a user over one tree node or one department."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="roles", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    node = models.ForeignKey(
        "org.Node",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="role_assignments",
        verbose_name=_("node"),
    )
    department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="role_assignments",
        verbose_name=_("department"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "node", "department"], name="role_assignment_unique"
            ),
        ]

    def __str__(self) -> str:
        where = self.node or self.department or ""
        return f"{self.get_role_display()} {where}".strip()


class ApiToken(models.Model):
    """API 令牌 — a bearer token for /api/v1/; only the SHA-256 hash of the secret is stored."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    #: The first characters of the token, enough to recognise it in a list, useless to log in.
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["user", "-created_at"], name="api_token_user_created")]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}".strip()

    def is_usable(self, now: dt.datetime | None = None) -> bool:
        """Neither revoked nor expired (the owner's account being active is checked apart)."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


# --------------------------------------------------------------------------- second factor
# (docs/SECURITY-BAR.md §5; services in minqing.accounts.services_otp)


class TotpDevice(models.Model):
    """两步验证 — a user's TOTP authenticator (RFC 6238); the secret is stored encrypted."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="totp_device", verbose_name=_("user")
    )
    seal_id = SealIdField()  # the row its encrypted values are bound to
    secret = EncryptedField(_("secret"), kind="text")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: Set when the user first entered a right code; until then the device does not count.
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    #: The last time step (Unix time // 30) a code was accepted for: a code is used once.
    last_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("authenticator")
        verbose_name_plural = _("authenticators")

    def __str__(self) -> str:
        return f"TOTP {self.user}"


class RecoveryCode(models.Model):
    """恢复码 — a one-time code for a lost phone; only its SHA-256 hash is stored."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="recovery_codes", verbose_name=_("user")
    )
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique"),
        ]

    def __str__(self) -> str:
        return f"recovery code {self.user}"
