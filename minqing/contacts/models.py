"""The contact network — 划片包干, 代表联户, 党员联户 and the 包保台账 (docs/DOMAIN.md §2).

A *liaison* (联系人) is a person who answers for households: a residents' group leader, a
villagers' representative, a party member or a cadre. A *contact link* (联户关系) ties one
household to one liaison of one kind; a household has at most one current link per kind, and
every required kind covers every eligible household ("全覆盖、无遗漏、不重复").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.lib.fields import EncryptedField, SealIdField
from minqing.org.models import Node


class LiaisonKind(models.TextChoices):
    """Who answers for a household, and how many households such a person takes."""

    GROUP_LEADER = "group_leader", _("Residents' group leader")  # 城乡居民组长, ~100 households
    REPRESENTATIVE = "representative", _("Villagers' representative")  # 村民代表, 5–15
    PARTY_MEMBER = "party_member", _("Party member")  # 党员联户
    CADRE = "cadre", _("Cadre (1+1 pairing)")  # 干部 "1+1" with a difficult family


class LiaisonCategory(models.TextChoices):
    """The kinds of party member the matching rules of docs/DOMAIN.md §2 speak of."""

    NONE = "", _("—")
    ORDINARY = "ordinary", _("Party member without post")  # 无职党员
    MOBILE = "mobile", _("Mobile party member")  # 流动党员
    COMMITTEE = "committee", _("Village committee member")  # 两委党员
    YOUNG = "young", _("Young party member")  # 年轻党员


class LiaisonQuerySet(models.QuerySet["Liaison"]):
    def visible_to(self, user: Any) -> LiaisonQuerySet:
        from minqing.accounts.scope import scope_for

        return self.filter(scope_for(user).node_q("node__path"))


class Liaison(models.Model):
    """联系人 — one person who answers for households (a resident, an account holder, or both)."""

    node = models.ForeignKey(
        Node,
        on_delete=models.PROTECT,
        related_name="liaisons",
        verbose_name=_("group/grid"),
        help_text=_("Where the person lives or works: households nearby go to them first."),
    )
    village = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="village_liaisons", verbose_name=_("village")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LiaisonKind.choices)
    category = models.CharField(
        _("category"), max_length=12, choices=LiaisonCategory.choices, blank=True, default=""
    )
    name = models.CharField(_("name"), max_length=50)
    seal_id = SealIdField()  # the row its encrypted values are bound to
    phone = EncryptedField(_("phone"), kind="phone")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="liaisons",
        verbose_name=_("account"),
    )
    resident = models.ForeignKey(
        "households.Resident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="liaisons",
        verbose_name=_("resident"),
    )
    capacity = models.PositiveSmallIntegerField(
        _("most households"),
        null=True,
        blank=True,
        help_text=_("Leave empty for the county's rule for this kind."),
    )
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = LiaisonQuerySet.as_manager()

    # Not columns: set on the instances ``selectors.liaisons_by_kind`` reads for the liaison
    # page (beside the ``load`` that ``selectors.with_load`` annotates).
    #: its capacity, or the county's rule when it has none
    capacity_or_rule: int
    #: more households than ``capacity_or_rule``
    over: bool

    class Meta:
        verbose_name = _("liaison")
        verbose_name_plural = _("liaisons")
        ordering = ["village_id", "kind", "node_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "user"],
                condition=Q(user__isnull=False),
                name="liaison_one_per_user",
            ),
            models.UniqueConstraint(
                fields=["kind", "resident"],
                condition=Q(resident__isnull=False),
                name="liaison_one_per_resident",
            ),
        ]
        indexes = [models.Index(fields=["village", "kind", "active"], name="liaison_village_kind")]

    def __str__(self) -> str:
        return self.name


class LinkQuerySet(models.QuerySet["ContactLink"]):
    def current(self) -> LinkQuerySet:
        return self.filter(ended_at__isnull=True)

    def visible_to(self, user: Any) -> LinkQuerySet:
        from minqing.accounts.scope import scope_for

        return self.filter(scope_for(user).node_q("household__node__path"))


class ContactLink(models.Model):
    """联户关系 — a household in a liaison's care, from ``started_at`` until ``ended_at``.

    Ended links stay as the history of who answered for the household. ``manual`` links were set
    by a person and are never moved by the engine.
    """

    household = models.ForeignKey(
        "households.Household",
        on_delete=models.CASCADE,
        related_name="contact_links",
        verbose_name=_("household"),
    )
    liaison = models.ForeignKey(
        Liaison, on_delete=models.PROTECT, related_name="links", verbose_name=_("liaison")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LiaisonKind.choices)
    manual = models.BooleanField(_("set by hand"), default=False)
    started_at = models.DateTimeField(_("since"), default=timezone.now)
    ended_at = models.DateTimeField(_("until"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = LinkQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact link")
        verbose_name_plural = _("contact links")
        ordering = ["household_id", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "kind"],
                condition=Q(ended_at__isnull=True),
                name="link_one_current_per_kind",
            ),
        ]
        indexes = [
            models.Index(
                fields=["liaison", "household"],
                condition=Q(ended_at__isnull=True),
                name="link_current_liaison",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} → {self.liaison_id} ({self.kind})"


class AssignmentRule(models.Model):
    """包保规则 — how many households one liaison of a kind takes, and who must be covered."""

    county = models.ForeignKey(
        Node, on_delete=models.CASCADE, related_name="assignment_rules", verbose_name=_("county")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LiaisonKind.choices)
    min_load = models.PositiveSmallIntegerField(_("fewest households"), default=0)
    max_load = models.PositiveSmallIntegerField(_("most households"))
    required = models.BooleanField(
        _("must cover every eligible household"),
        default=True,
        help_text=_("The coverage report counts households without a liaison of this kind."),
    )
    eligible_tags = models.ManyToManyField(
        "households.HouseholdTag",
        blank=True,
        related_name="+",
        verbose_name=_("only households tagged"),
        help_text=_("Empty: every household. Otherwise only households with one of the tags."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["county_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["county", "kind"], name="assignment_rule_unique"),
            models.CheckConstraint(
                condition=Q(max_load__gte=models.F("min_load")) & Q(max_load__gt=0),
                name="assignment_rule_loads",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.min_load}–{self.max_load}"


class MatchRule(models.Model):
    """结对规则 — which liaisons suit which households (无职党员→一般农户, 流动党员→务工农户,
    两委党员→病灾困难户, 年轻党员→老党员/困难党员). A household "matches" when it carries one of
    the tags; with no tags the rule means households that carry none of the key tags."""

    county = models.ForeignKey(
        Node, on_delete=models.CASCADE, related_name="match_rules", verbose_name=_("county")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LiaisonKind.choices)
    category = models.CharField(_("category"), max_length=12, choices=LiaisonCategory.choices)
    tags = models.ManyToManyField(
        "households.HouseholdTag", blank=True, related_name="+", verbose_name=_("household tags")
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"),
        default=5,
        help_text=_("How strongly to prefer the pairing, 1–10 (10 ≈ a kilometre of distance)."),
    )

    class Meta:
        verbose_name = _("matching rule")
        verbose_name_plural = _("matching rules")
        ordering = ["county_id", "kind", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "kind", "category"], name="match_rule_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_category_display()}"


class RunStatus(models.TextChoices):
    """Where a run is: a county-wide run waits in the queue for the worker; a village or town
    run goes straight to running in the request."""

    QUEUED = "queued", _("Waiting for the worker")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


#: A place has at most one run in these states at a time (the constraint below).
ACTIVE_RUN_STATES = (RunStatus.QUEUED, RunStatus.RUNNING)


class AssignmentRun(models.Model):
    """一次分配 — one run of the engine over a county or a village, and what it found."""

    node = models.ForeignKey(
        Node, on_delete=models.CASCADE, related_name="assignment_runs", verbose_name=_("place")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    #: When it was asked for; a queued run's clock restarts when the worker claims it.
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: {"assigned", "kept", "moved", "ended", "manual", "unassigned", "seconds",
    #:  "shortages": [{"village", "name", "kind", "households", "people"}], "error"}
    result = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("assignment run")
        verbose_name_plural = _("assignment runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            # Two clicks (or two workers) never start two runs of one place.
            models.UniqueConstraint(
                fields=["node"],
                condition=Q(status__in=["queued", "running"]),
                name="assignment_run_one_active",
            ),
        ]
        indexes = [models.Index(fields=["node", "-started_at"], name="assignment_run_node")]

    def __str__(self) -> str:
        return f"{self.node} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATES
