"""What happens around an issue: revisits, check-ins, extensions, late records, the index."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.issues.models.issue import Issue
from minqing.issues.models.states import ContactMode, Level, Satisfaction
from minqing.lib.collations import BYTEWISE, PostgresCollatedCharField


class Revisit(models.Model):
    """回访 — the resident says whether they are satisfied; sampled revisits follow closing."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="revisits")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("time"), default=timezone.now)
    mode = models.CharField(_("mode"), max_length=8, choices=ContactMode.choices)
    result = models.CharField(_("result"), max_length=12, choices=Satisfaction.choices)
    words = models.TextField(_("resident's words"), blank=True)
    sampled = models.BooleanField(_("sampled after closing"), default=False)

    class Meta:
        verbose_name = _("revisit")
        verbose_name_plural = _("revisits")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.issue_id} {self.result}"


class CheckIn(models.Model):
    """吹哨报到 — the town or county calls a department onto a joint issue; it reports in."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="check_ins")
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    called_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        constraints = [
            models.UniqueConstraint(fields=["issue", "department"], name="check_in_unique")
        ]

    def __str__(self) -> str:
        return f"{self.issue_id} {self.department_id}"


class ExtensionRequest(models.Model):
    """延期申请 — the unit asks for more time; a supervisor approves or refuses."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    workdays = models.PositiveSmallIntegerField(_("extra working days"))
    reason = models.TextField(_("reason"))
    decision = models.CharField(max_length=8, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        constraints = [
            models.UniqueConstraint(
                fields=["issue"], condition=Q(decision="pending"), name="one_pending_extension"
            )
        ]

    def __str__(self) -> str:
        return f"{self.issue_id} +{self.workdays}"


class LateRecord(models.Model):
    """通报 — a unit let an issue run past its deadline; listed in the late-units report."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="late_records")
    level = models.CharField(max_length=12, choices=Level.choices)
    unit_node = models.ForeignKey(
        "org.Node", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit_department = models.ForeignKey(
        "org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    due_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("late record")
        verbose_name_plural = _("late records")
        constraints = [
            # One record per missed deadline: the sweep may run twice, the record cannot.
            models.UniqueConstraint(fields=["issue", "due_at"], name="late_record_once")
        ]

    def __str__(self) -> str:
        return f"{self.issue_id} {self.level}"


class IssueTerm(models.Model):
    """Inverted index of unfinished issues for the similar-issue lookup (字符 n-gram)."""

    # A derived index rebuilt by ``reindex_issues``: no database constraint, which would cost
    # a check per row of the 3–4 million a county holds (Django still cascades deletes).
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    town_id_value = models.BigIntegerField()
    village_id_value = models.BigIntegerField()
    term = PostgresCollatedCharField(max_length=16, db_collation=BYTEWISE)
    count = models.PositiveSmallIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["town_id_value", "term", "issue"], name="issue_term_town"),
            models.Index(fields=["issue"], name="issue_term_issue"),
        ]

    def __str__(self) -> str:
        return self.term
