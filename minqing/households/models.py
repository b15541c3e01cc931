"""Household archives — 民情档案 ("一村一册、一户一页")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.lib.collations import BYTEWISE, PostgresCollatedCharField
from minqing.lib.fields import BlindIndexField, EncryptedField, SealIdField
from minqing.org.models import Node

MINOR_AGE = 14

#: Confidential fields: encrypted, shown only in a reveal, never in the history or the audit.
SENSITIVE_FIELDS = frozenset({"id_number", "phone", "health_notes", "income_notes"})
#: The fields of a household and of a member that the services write and the history names.
HOUSEHOLD_FIELDS = (
    "number",
    "head_name",
    "address",
    "phone",
    "family_situation",
    "income_source",
    "income_notes",
    "children_education",
    "social_relations",
)
RESIDENT_FIELDS = (
    "name",
    "relation",
    "sex",
    "birth_date",
    "id_number",
    "phone",
    "politics",
    "education",
    "occupation",
    "works_away",
    "health",
    "health_notes",
    "notes",
)


def history_text(value: Any) -> str:
    """How a value is kept in the history: codes, not labels, so any language can show it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Node):
        return value.name
    return str(value)


class Relation(models.TextChoices):
    """与户主关系 — relation to the head of household."""

    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    CHILD_IN_LAW = "child_in_law", _("Child-in-law")
    GRANDCHILD = "grandchild", _("Grandchild")
    PARENT = "parent", _("Parent")
    GRANDPARENT = "grandparent", _("Grandparent")
    SIBLING = "sibling", _("Sibling")
    OTHER = "other", _("Other")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Health(models.TextChoices):
    """健康状况."""

    HEALTHY = "healthy", _("Healthy")
    CHRONIC = "chronic", _("Chronic illness")
    SERIOUS = "serious", _("Serious illness")
    DISABLED = "disabled", _("Disabled")


class Politics(models.TextChoices):
    """政治面貌."""

    MASSES = "masses", _("Masses")
    PARTY = "party", _("CPC member")
    LEAGUE = "league", _("Youth League member")
    OTHER = "other", _("Other party")


class HouseholdTag(models.Model):
    """重点户标签 — a key-household tag such as 脱贫户, 独居老人 or 留守儿童."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=20, unique=True)
    sort_key = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("household tag")
        verbose_name_plural = _("household tags")
        ordering = ["sort_key", "code"]

    def __str__(self) -> str:
        return self.name


class HouseholdQuerySet(models.QuerySet["Household"]):
    def visible_to(self, user: Any) -> HouseholdQuerySet:
        from minqing.accounts.scope import scope_for

        return self.filter(scope_for(user).node_q("node__path"))


class Household(models.Model):
    """户 — one registered household (一户一页)."""

    node = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="households", verbose_name=_("group/grid")
    )
    village = models.ForeignKey(
        Node,
        on_delete=models.PROTECT,
        related_name="village_households",
        verbose_name=_("village/community"),
    )
    number = PostgresCollatedCharField(
        _("household number"),
        max_length=32,
        db_index=True,
        db_collation=BYTEWISE,
        help_text=_("户编号, unique within the village."),
    )
    address = PostgresCollatedCharField(
        _("address"), max_length=200, blank=True, db_index=True, db_collation=BYTEWISE
    )
    head_name = PostgresCollatedCharField(
        _("head of household"), max_length=50, db_index=True, db_collation=BYTEWISE
    )
    seal_id = SealIdField()  # the row its encrypted values are bound to
    phone = EncryptedField(_("contact phone"), kind="phone")
    phone_hash = BlindIndexField(source="phone", purpose="phone")
    tags = models.ManyToManyField(
        HouseholdTag, blank=True, related_name="households", verbose_name=_("key-household tags")
    )
    family_situation = models.TextField(_("family situation"), blank=True)
    income_source = models.CharField(_("main income source"), max_length=100, blank=True)
    income_notes = EncryptedField(_("income notes"), kind="text")
    children_education = models.TextField(_("children's education"), blank=True)
    social_relations = models.TextField(_("social relations"), blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    member_count = models.PositiveSmallIntegerField(_("members"), default=0, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["village_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["village", "number"], name="household_unique_number"),
        ]
        indexes = [
            models.Index(fields=["node", "number"], name="household_node_number"),
            models.Index(fields=["phone_hash"], name="household_phone_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.head_name} ({self.number})"


class ResidentQuerySet(models.QuerySet["Resident"]):
    def visible_to(self, user: Any) -> ResidentQuerySet:
        from minqing.accounts.scope import scope_for

        return self.filter(scope_for(user).node_q("household__node__path"))


class Resident(models.Model):
    """人 — one member of a household."""

    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="members", verbose_name=_("household")
    )
    name = PostgresCollatedCharField(_("name"), max_length=50, db_index=True, db_collation=BYTEWISE)
    relation = models.CharField(
        _("relation to head"), max_length=16, choices=Relation.choices, default=Relation.OTHER
    )
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    seal_id = SealIdField()  # the row its encrypted values are bound to
    id_number = EncryptedField(_("ID number"), kind="id_number")
    id_number_hash = BlindIndexField(source="id_number", purpose="id_number")
    phone = EncryptedField(_("phone"), kind="phone")
    phone_hash = BlindIndexField(source="phone", purpose="phone")
    politics = models.CharField(
        _("political status"), max_length=8, choices=Politics.choices, default=Politics.MASSES
    )
    education = models.CharField(_("education"), max_length=30, blank=True)
    occupation = models.CharField(_("occupation"), max_length=50, blank=True)
    works_away = models.BooleanField(_("works away from home"), default=False)
    health = models.CharField(
        _("health"), max_length=10, choices=Health.choices, default=Health.HEALTHY
    )
    health_notes = EncryptedField(_("health notes"), kind="text")
    notes = models.TextField(_("notes"), blank=True)
    #: The version an edit is based on (docs/SECURITY-BAR.md §18); every change of the member adds
    #: one.
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ResidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["household_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_hash"],
                condition=~Q(id_number_hash=""),
                name="resident_unique_id_number",
            ),
        ]
        indexes = [
            # SQLite does not use the partial unique index for "= value" lookups; this one it does.
            models.Index(fields=["id_number_hash"], name="resident_id_number_hash"),
            models.Index(fields=["phone_hash"], name="resident_phone_hash"),
        ]

    def __str__(self) -> str:
        return self.name

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int | None:
        return self.age_on(timezone.localdate())

    @property
    def is_minor(self) -> bool:
        """Under 14: the record needs the minors permission (docs/SECURITY-BAR.md §12)."""
        age = self.age
        return age is not None and age < MINOR_AGE


class VillageArchive(models.Model):
    """村情档案 — the village page: committee, collective economy, party building, plan."""

    village = models.OneToOneField(
        Node, on_delete=models.CASCADE, related_name="archive", verbose_name=_("village/community")
    )
    committee = models.TextField(_("village committee (两委班子)"), blank=True)
    collective_economy = models.TextField(_("collective economy"), blank=True)
    party_building = models.TextField(_("party building"), blank=True)
    stability = models.TextField(_("stability and disputes"), blank=True)
    year_plan = models.TextField(_("plan for the year"), blank=True)
    area_km2 = models.DecimalField(
        _("area (km²)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    #: 村（社区）办公室电话 — a public number, printed on the contact cards (not personal data).
    office_phone = models.CharField(_("office phone"), max_length=30, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("village archive")
        verbose_name_plural = _("village archives")

    def __str__(self) -> str:
        return str(self.village)


class ArchiveChange(models.Model):
    """变更记录 — who changed what in an archive, and when (shown on the page).

    Sensitive fields record only that they changed, never their values.
    """

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        DELETE = "delete", _("deleted")
        IMPORT = "import", _("imported")

    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.CASCADE, related_name="changes"
    )
    village = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.CASCADE, related_name="archive_changes"
    )
    resident_name = models.CharField(max_length=50, blank=True)
    concerns_minor = models.BooleanField(
        default=False, help_text="Hidden from roles without the minors permission."
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=8, choices=Action.choices)
    changes = models.JSONField(default=list, help_text="[[field label, old, new], …]")

    class Meta:
        verbose_name = _("archive change")
        verbose_name_plural = _("archive changes")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["household", "-at"], name="change_household_at"),
            models.Index(fields=["village", "-at"], name="change_village_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}"


class LedgerImport(models.Model):
    """台账导入 — one uploaded ledger file, kept between "check" and "import".

    The file is stored (encrypted, see ``minqing.households.ledger.storage``) so that nothing a
    user uploaded is lost between seeing the error report and pressing "import", and so the
    import re-reads exactly the file that was checked.
    """

    class Status(models.TextChoices):
        CHECKED = "checked", _("checked")
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("importing")
        IMPORTED = "imported", _("imported")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="ledger_imports",
        verbose_name=_("user"),
    )
    node = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="ledger_imports", verbose_name=_("import into")
    )
    original_name = models.CharField(_("file name"), max_length=255)
    stored_path = models.CharField(
        max_length=255, editable=False, help_text="Relative to DATA_DIR/imports."
    )
    file_format = models.CharField(max_length=4, editable=False)
    size = models.PositiveIntegerField(default=0, editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.CHECKED
    )
    valid_only = models.BooleanField(_("valid rows only"), default=False)
    report = models.JSONField(default=dict, help_text="errors [{row, column, message}] and counts")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: "Import" pressed (the worker writes it: ``minqing.households.jobs``).
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: The last sign of life of a running import (claimed, each batch written): a ``running``
    #: import whose progress has not moved for ``importer.STALE_RUN`` lost its worker.
    progress_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("ledger import")
        verbose_name_plural = _("ledger imports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="ledger_import_user_at")]

    def __str__(self) -> str:
        return self.original_name

    #: States from which "Import" may be pressed: checked, or failed/stopped (continues).
    IMPORTABLE = (Status.CHECKED, Status.FAILED)
    #: States the worker holds: the page refreshes itself while in one.
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    @property
    def can_import(self) -> bool:
        """Still waiting for the user's decision, or stopped part-way and to be continued (a
        finished import is never run twice)."""
        return self.status in self.IMPORTABLE

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
