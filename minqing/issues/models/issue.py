"""The issue, its reporters, its timeline and its photos; the taxonomy and deadline rules."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.issues.models.states import (
    OPEN_STATES,
    Colour,
    Complexity,
    EventAction,
    Level,
    Source,
    Status,
)
from minqing.lib.collations import BYTEWISE, PostgresCollatedCharField
from minqing.lib.fields import BlindIndexField, EncryptedField, SealIdField


class Category(models.Model):
    """问题分类 — an editable taxonomy; each category routes to a default department."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    kind = models.CharField(
        _("applies to"),
        max_length=8,
        choices=[("both", _("Urban and rural")), ("rural", _("Rural")), ("urban", _("Urban"))],
        default="both",
    )
    department_code = models.CharField(
        _("default department code"),
        max_length=32,
        blank=True,
        help_text=_("Matched against the code of a county department (e.g. power, water)."),
    )
    active = models.BooleanField(_("active"), default=True)
    sort_key = models.PositiveIntegerField(_("display order"), default=0)

    class Meta:
        verbose_name = _("issue category")
        verbose_name_plural = _("issue categories")
        ordering = ["sort_key", "code"]

    def __str__(self) -> str:
        from django.utils.translation import get_language

        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class DeadlineRule(models.Model):
    """时限规则 — how long a colour × complexity has, in working days or calendar months."""

    UNITS = [("workdays", _("working days")), ("months", _("months"))]

    colour = models.CharField(_("colour"), max_length=8, choices=Colour.choices)
    complexity = models.CharField(_("complexity"), max_length=8, choices=Complexity.choices)
    amount = models.PositiveSmallIntegerField(_("amount"))
    unit = models.CharField(_("unit"), max_length=8, choices=UNITS, default="workdays")

    class Meta:
        verbose_name = _("deadline rule")
        verbose_name_plural = _("deadline rules")
        constraints = [
            models.UniqueConstraint(fields=["colour", "complexity"], name="deadline_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.colour}/{self.complexity}: {self.amount} {self.unit}"


class Topic(models.Model):
    """一类事 — many alike issues across places, grouped for a policy-level fix."""

    title = models.CharField(_("title"), max_length=100)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("category")
    )
    county = models.ForeignKey(
        "org.Node", on_delete=models.PROTECT, related_name="+", verbose_name=_("county")
    )
    note = models.TextField(_("policy note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("topic (一类事)")
        verbose_name_plural = _("topics")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class IssueQuerySet(models.QuerySet["Issue"]):
    def visible_to(self, user) -> IssueQuerySet:
        from minqing.issues.selectors import issue_scope_q

        return self.filter(issue_scope_q(user))

    def open(self) -> IssueQuerySet:
        return self.filter(status__in=OPEN_STATES)


class Issue(models.Model):
    """民情问题 — one problem, from the moment it is found until the resident is satisfied."""

    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    node = models.ForeignKey(
        "org.Node", on_delete=models.PROTECT, related_name="issues", verbose_name=_("place")
    )
    # The village and town above ``node``, kept for scoping, boards and similar-issue lookup.
    village = models.ForeignKey(
        "org.Node", null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("village")
    )
    town = models.ForeignKey(
        "org.Node", null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("town")
    )
    node_path = PostgresCollatedCharField(max_length=255, editable=False, db_collation=BYTEWISE)
    household = models.ForeignKey(
        "households.Household",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="issues",
        verbose_name=_("household"),
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, verbose_name=_("category"))
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"))
    colour = models.CharField(_("colour"), max_length=8, choices=Colour.choices)
    complexity = models.CharField(
        _("complexity"), max_length=8, choices=Complexity.choices, default=Complexity.GENERAL
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REGISTERED
    )
    level = models.CharField(_("handling level"), max_length=12, choices=Level.choices)
    # Who must act now: a unit in the tree (village committee, town office), a county
    # department, or a co-building unit; plus the named responsible person.
    owner_node = models.ForeignKey(
        "org.Node",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("responsible unit"),
    )
    owner_department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="issues",
        verbose_name=_("responsible department"),
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("responsible person"),
    )
    offered = models.BooleanField(
        _("offered to co-building units"),
        default=False,
        help_text=_("A resident's order (点单) that co-building units may take (接单)."),
    )
    stage_started_at = models.DateTimeField(_("stage started"), null=True, blank=True)
    warn_at = models.DateTimeField(_("yellow light at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    final_due_at = models.DateTimeField(_("final deadline"), null=True, blank=True)
    warned = models.BooleanField(default=False)
    #: A deadline runs into a year whose official holidays nobody has entered: it was counted
    #: by the package's estimate (weekends and statutory holidays, no make-up days).
    deadline_estimated = models.BooleanField(_("deadline estimated"), default=False)
    escalations = models.PositiveSmallIntegerField(_("escalations"), default=0)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_issues",
        verbose_name=_("merged into"),
    )
    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="issues",
        verbose_name=_("topic"),
    )
    resolution = models.TextField(_("what was done"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("registered by"),
    )
    created_at = models.DateTimeField(_("registered"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    objects = IssueQuerySet.as_manager()

    class Meta:
        verbose_name = _("issue")
        verbose_name_plural = _("issues")
        ordering = ["-created_at"]
        indexes = [
            # The deadline sweep reads only open rows past their warning or due time.
            models.Index(
                fields=["due_at"],
                name="issue_open_due",
                condition=Q(
                    status__in=[
                        "registered",
                        "dispatched",
                        "accepted",
                        "in_progress",
                        "returned",
                        "reopened",
                    ]
                ),
            ),
            models.Index(
                fields=["warn_at"],
                name="issue_open_warn",
                condition=Q(warned=False)
                & Q(
                    status__in=[
                        "registered",
                        "dispatched",
                        "accepted",
                        "in_progress",
                        "returned",
                        "reopened",
                    ]
                ),
            ),
            models.Index(fields=["node_path", "status"], name="issue_path_status"),
            models.Index(fields=["town", "status", "due_at"], name="issue_town_board"),
            models.Index(fields=["owner_department", "status"], name="issue_dept_status"),
            models.Index(fields=["village", "status"], name="issue_village_status"),
            # The dispatch board: counts per state in a scope, and each state's most urgent.
            models.Index(fields=["status", "node_path"], name="issue_status_path"),
            models.Index(fields=["status", "due_at", "id", "node_path"], name="issue_status_due"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def can(self, step: str) -> bool:
        """The issue's state allows ``step`` (the table of steps, ``actions.STEPS``); who may
        take it is ``actions.allowed(user, step, issue)``."""
        from minqing.issues.actions import STEPS

        return self.status in STEPS[step].states

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def status_label(self) -> str:
        """The state's name; cheaper than ``get_status_display`` in long lists."""
        return str(Status(self.status).label)

    @property
    def colour_label(self) -> str:
        return str(Colour(self.colour).label)

    @property
    def owner_label(self) -> str:
        return str(self.owner_department or self.owner_node or "")

    def light(self, now=None) -> str:
        """交通灯 of the current stage: green, yellow (≥ 70 % of the time gone), red (overdue)."""
        if not self.is_open or self.due_at is None:
            return ""
        now = now or timezone.now()
        if now > self.due_at:
            return "red"
        if self.warn_at is not None and now >= self.warn_at:
            return "yellow"
        return "green"


class IssueReporter(models.Model):
    """反映人 — one household (or person) that reported the problem; each gets a reply."""

    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="reporters", verbose_name=_("issue")
    )
    household = models.ForeignKey(
        "households.Household",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("household"),
    )
    name = models.CharField(_("name"), max_length=50, blank=True)
    seal_id = SealIdField()  # the row its encrypted values are bound to
    phone = EncryptedField(_("phone"), kind="phone")
    phone_hash = BlindIndexField(source="phone", purpose="phone")
    words = models.TextField(_("in their words"), blank=True)
    reported_at = models.DateTimeField(_("reported"), default=timezone.now)
    reply = models.TextField(_("reply"), blank=True)
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("reporter")
        verbose_name_plural = _("reporters")
        ordering = ["reported_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "household"],
                condition=Q(household__isnull=False),
                name="reporter_one_per_household",
            )
        ]

    def __str__(self) -> str:
        return self.name or str(self.household or "")


class IssueEvent(models.Model):
    """时间线 — one step of the issue's history: who, when, from which state to which."""

    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="events", verbose_name=_("issue")
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    action = models.CharField(_("action"), max_length=24)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("issue event")
        verbose_name_plural = _("issue events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["issue", "at"], name="issue_event_issue_at")]

    def __str__(self) -> str:
        return f"{self.issue_id} {self.action}"

    @property
    def label(self) -> str:
        return str(EVENT_LABELS.get(self.action, self.action))

    @property
    def to_label(self) -> str:
        return str(Status(self.to_status).label) if self.to_status else ""


#: What each timeline step is called on the page.
EVENT_LABELS = dict(EventAction.choices)


class IssuePhoto(models.Model):
    """现场照片 — a photo of the problem, sealed with the personal-data keys under the data dir
    (it may show a home or a face) and served only to people who can see the issue."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="photos")
    stored = models.CharField(max_length=200, editable=False)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.stored
