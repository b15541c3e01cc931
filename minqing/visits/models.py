"""The visit diary — 民情日记/问题日记, must-visit tasks (三必报、四必到) and quotas (docs/DOMAIN.md
§3)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.contacts.models import LiaisonKind
from minqing.org.models import Node


class Mode(models.TextChoices):
    HOME = "home", _("Home visit")  # 入户
    PHONE = "phone", _("Phone")
    WECHAT = "wechat", _("WeChat")
    MEETING = "meeting", _("Meeting")  # 院坝会/座谈
    NIGHT = "night", _("Night visit")  # 民情夜访


#: Modes that count as a home visit for the quotas ("入户走访").
HOME_MODES = (Mode.HOME, Mode.NIGHT)
#: Modes that count as a contact ("电话/微信联系").
CONTACT_MODES = (Mode.HOME, Mode.NIGHT, Mode.PHONE, Mode.WECHAT, Mode.MEETING)


class VisitQuerySet(models.QuerySet["Visit"]):
    def visible_to(self, user: Any) -> VisitQuerySet:
        from minqing.accounts.scope import scope_for

        return self.filter(scope_for(user).node_q("node_path"))


class Visit(models.Model):
    """走访记录 — one entry in the diary: who saw whom, when, how, and what came of it.

    ``client_uuid`` is made by the phone when the visit is written, so a record synced twice
    (offline capture, a retry after a lost answer) is still one visit (docs/SECURITY-BAR.md §17);
    ``content_hash`` tells a replay of the same record from a different record under the same id.
    """

    client_uuid = models.UUIDField(unique=True, editable=False)
    content_hash = models.CharField(max_length=64, editable=False)
    household = models.ForeignKey(
        "households.Household",
        on_delete=models.PROTECT,
        related_name="visits",
        verbose_name=_("household"),
    )
    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    node_path = models.CharField(max_length=255, editable=False)
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="visits",
        verbose_name=_("visitor"),
    )
    companions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="team_visits", verbose_name=_("team")
    )
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.HOME)
    visited_at = models.DateTimeField(_("visited at"))
    notes = models.TextField(_("what we talked about"), blank=True)
    materials = models.CharField(_("materials handed out"), max_length=200, blank=True)
    issues = models.ManyToManyField(
        "issues.Issue", blank=True, related_name="visits", verbose_name=_("problems raised")
    )
    task = models.ForeignKey(
        "visits.VisitTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visits",
        verbose_name=_("must-visit task"),
    )
    night_plan = models.ForeignKey(
        "visits.NightVisitPlan",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visits",
        verbose_name=_("night visit"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_at", "-id"]
        indexes = [
            models.Index(fields=["household", "-visited_at"], name="visit_household_at"),
            models.Index(fields=["visitor", "-visited_at"], name="visit_visitor_at"),
            models.Index(fields=["village", "visited_at"], name="visit_village_at"),
        ]

    def __str__(self) -> str:
        return f"{self.visited_at:%Y-%m-%d} {self.get_mode_display()}"


class Period(models.TextChoices):
    WEEK = "week", _("week")
    MONTH = "month", _("month")


class QuotaRule(models.Model):
    """走访频次 — e.g. cadres ≥1 home visit a month and ≥1 phone/WeChat contact a week for each
    linked household; town leaders ≥5 households a month; representatives weekly."""

    county = models.ForeignKey(
        Node, on_delete=models.CASCADE, related_name="quota_rules", verbose_name=_("county")
    )
    kind = models.CharField(_("who"), max_length=16, choices=LiaisonKind.choices)
    period = models.CharField(_("per"), max_length=8, choices=Period.choices)
    count = models.PositiveSmallIntegerField(_("at least"), default=1)
    per_household = models.BooleanField(
        _("for each linked household"),
        default=True,
        help_text=_("Otherwise the count is of different households in the period."),
    )
    home_only = models.BooleanField(
        _("home visits only"), default=False, help_text=_("Phone and WeChat do not count.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("visit quota")
        verbose_name_plural = _("visit quotas")
        ordering = ["county_id", "kind", "period"]
        constraints = [
            # What quotas_save calls "another rule already says this"; it also lets the
            # defaults be written once however many first readers there are.
            models.UniqueConstraint(
                fields=["county", "kind", "period", "per_household", "home_only"],
                name="quota_rule_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ≥{self.count}/{self.get_period_display()}"


#: How far back a visit may be dated unless the county says otherwise (paper diaries are typed
#: in later; a ledger imported today holds households that lived there before).
DEFAULT_LOOKBACK_DAYS = 90
MIN_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS = 1, 366


class VisitSettings(models.Model):
    """A county's rules for the visit diary besides the quotas: one row per county, written
    with its defaults the first time it is read (``cadence.settings_for``)."""

    county = models.OneToOneField(
        Node, on_delete=models.CASCADE, related_name="visit_settings", verbose_name=_("county")
    )
    lookback_days = models.PositiveSmallIntegerField(
        _("visits may be recorded up to this many days back"), default=DEFAULT_LOOKBACK_DAYS
    )

    class Meta:
        verbose_name = _("visit diary settings")
        verbose_name_plural = _("visit diary settings")

    def __str__(self) -> str:
        return f"{self.county_id}: {self.lookback_days}"


class EventKind(models.TextChoices):
    """三必报、四必到 — events that must be reported, and events that call for a visit."""

    WEDDING = "wedding", _("Wedding")
    FUNERAL = "funeral", _("Funeral")
    ENLISTMENT = "enlistment", _("Enlistment")
    JOINED_PARTY = "joined_party", _("Joined the Party")
    DISASTER = "disaster", _("Disaster or accident")
    DISPUTE = "dispute", _("Neighbour dispute")
    HOLIDAY = "holiday", _("Holiday campaign")
    FAMILY_CHANGE = "family_change", _("Change in the family")
    MOVING = "moving", _("Moving house")


#: Events after which the household's liaisons must visit, and within how many days.
MUST_VISIT_DAYS = {
    EventKind.WEDDING: 7,
    EventKind.FUNERAL: 3,
    EventKind.ENLISTMENT: 7,
    EventKind.JOINED_PARTY: 14,
    EventKind.DISASTER: 1,
    EventKind.DISPUTE: 2,
    EventKind.HOLIDAY: 14,
}
#: Events that must be reported to the village and written into the archive.
MUST_REPORT = frozenset({EventKind.FAMILY_CHANGE, EventKind.MOVING})


class LifeEvent(models.Model):
    """户情事件 — something that happened to a household, recorded by whoever heard of it.

    ``client_uuid`` is made when the form is shown, so a form sent twice records one event.
    """

    client_uuid = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    household = models.ForeignKey(
        "households.Household", on_delete=models.CASCADE, related_name="life_events"
    )
    kind = models.CharField(_("event"), max_length=16, choices=EventKind.choices)
    occurred_on = models.DateField(_("on"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("household event")
        verbose_name_plural = _("household events")
        ordering = ["-occurred_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"


class VisitCampaign(models.Model):
    """节日走访 — a holiday campaign: every household of a village carrying one of the chosen
    tags (独居老人, 困难户 …) must be visited by ``due_on``. The same title and date in the same
    village is the same campaign: starting it again adds no second task for a household."""

    village = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="visit_campaigns", verbose_name=_("village")
    )
    title = models.CharField(_("title"), max_length=100)
    tags = models.ManyToManyField(
        "households.HouseholdTag", related_name="+", verbose_name=_("households tagged")
    )
    due_on = models.DateField(_("visit by"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("holiday campaign")
        verbose_name_plural = _("holiday campaigns")
        ordering = ["-due_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["village", "title", "due_on"], name="visit_campaign_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class VisitTask(models.Model):
    """必到任务 — a visit that must happen by ``due_on`` (after an event, or a campaign)."""

    household = models.ForeignKey(
        "households.Household", on_delete=models.CASCADE, related_name="visit_tasks"
    )
    node_path = models.CharField(max_length=255, editable=False)
    event = models.ForeignKey(
        LifeEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    campaign = models.ForeignKey(
        VisitCampaign, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    reason = models.CharField(_("reason"), max_length=100)
    due_on = models.DateField(_("due"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("must-visit task")
        verbose_name_plural = _("must-visit tasks")
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(
                fields=["household", "due_on"],
                condition=Q(done_at__isnull=True),
                name="task_open_household",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=Q(event__isnull=False), name="task_one_per_event"
            ),
            models.UniqueConstraint(
                fields=["campaign", "household"],
                condition=Q(campaign__isnull=False),
                name="task_one_per_campaign",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ≤ {self.due_on}"


#: ``NightVisitPlan.recurrence`` of the monthly neighbourhood service day (邻里服务日).
MONTHLY_FIRST_MONDAY = "monthly-first-monday"


class NightVisitPlan(models.Model):
    """民情夜访 — an evening session of a 1+2+N team (one town leader, two duty cadres, village
    cadres) to chosen households, in a visiting order along a short route.

    ``leader`` is the 1, ``duty`` the 2 and ``team`` the N. A recurring plan is the first
    session of its ``series`` (it points at itself); the sessions the job makes point at it,
    and a series never has two sessions on one day (the constraint below).
    """

    town = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="night_plans")
    title = models.CharField(_("title"), max_length=100)
    on = models.DateField(_("date"))
    starts = models.TimeField(_("from"))
    ends = models.TimeField(_("until"))
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("leader"),
    )
    team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="night_plans", verbose_name=_("team")
    )
    duty = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="night_duties",
        verbose_name=_("duty cadres"),
    )
    #: "monthly-first-monday" for the neighbourhood service day, else "".
    recurrence = models.CharField(max_length=32, blank=True)
    series = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    target_tags = models.ManyToManyField(
        "households.HouseholdTag", blank=True, related_name="+", verbose_name=_("households tagged")
    )
    with_open_issues = models.BooleanField(_("households with open problems"), default=True)
    max_stops = models.PositiveSmallIntegerField(_("at most households"), default=8)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("night visit")
        verbose_name_plural = _("night visits")
        ordering = ["-on", "-starts", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["series", "on"], name="night_series_one_per_day"),
            models.CheckConstraint(condition=Q(ends__gt=models.F("starts")), name="night_slot"),
        ]
        indexes = [models.Index(fields=["village", "-on"], name="night_village_on")]

    def __str__(self) -> str:
        return self.title


class NightVisitStop(models.Model):
    """One household of a night visit, in visiting order."""

    plan = models.ForeignKey(NightVisitPlan, on_delete=models.CASCADE, related_name="stops")
    household = models.ForeignKey(
        "households.Household", on_delete=models.PROTECT, related_name="+"
    )
    order = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["plan_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "household"], name="night_stop_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.household_id}"
