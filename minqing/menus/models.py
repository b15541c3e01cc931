"""The quarterly menu (四季菜单·暖心走访, docs/DOMAIN.md §4): departments' checklists merged into
one questionnaire a quarter, its published versions, and the campaign that takes it to every
household in a window.

- ``Checklist`` (部门清单): one department's questions, drafted in the editor or imported from
  XLSForm; draft → submitted → merged.
- ``Menu`` / ``MenuVersion`` / ``MenuQuestion``: the quarter's menu; a version is a draft until
  approved and published, and never changes afterwards — an edit makes the next version. Each
  question keeps its owning department(s) and may carry a rule that raises an issue.
- ``Campaign`` / ``Task``: a version, a window and a scope; one task per household in scope for
  its responsible person in the contact network (or for nobody: listed, not skipped).
- ``Response``: the task's record — answers (home or phone) or why nobody was reached — written
  once per ``client_uuid`` like a visit; ``CallAttempt``: each phone try.
- ``Progress`` and ``Tally``: counters kept in the answer's transaction (``minqing recount
  --menus`` rebuilds and compares them).
- ``BackCheck`` (抽样回访): a town's sample of done tasks, called back and the result kept.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.lib.fields import RowsJSONField
from minqing.menus.spec import Applies, Choice, QType, QuestionSpec
from minqing.org.models import Department, Node

QTYPE_CHOICES = [(t.value, t.value) for t in QType]
APPLIES_CHOICES = [
    (Applies.BOTH.value, _("Urban and rural")),
    (Applies.URBAN.value, _("Urban version")),
    (Applies.RURAL.value, _("Rural version")),
]


class QuestionFields(models.Model):
    """What a checklist question and a menu question share (``spec.QuestionSpec`` as columns)."""

    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=64)
    qtype = models.CharField(_("type"), max_length=16, choices=QTYPE_CHOICES)
    label_zh = models.CharField(_("question"), max_length=500)
    label_en = models.CharField(_("question (English)"), max_length=500, blank=True)
    hint_zh = models.CharField(_("hint"), max_length=500, blank=True)
    hint_en = models.CharField(_("hint (English)"), max_length=500, blank=True)
    theme = models.CharField(_("theme"), max_length=100, blank=True)
    required = models.BooleanField(_("required"), default=False)
    relevant = models.CharField(_("asked when"), max_length=500, blank=True)
    constraint = models.CharField(_("valid when"), max_length=500, blank=True)
    constraint_message_zh = models.CharField(
        _("message when not valid"), max_length=200, blank=True
    )
    constraint_message_en = models.CharField(
        _("message when not valid (English)"), max_length=200, blank=True
    )
    applies = models.CharField(
        _("version"), max_length=8, choices=APPLIES_CHOICES, default=Applies.BOTH.value
    )
    #: [[name, label_zh, label_en], …] in their order
    choices = models.JSONField(_("choices"), default=list, blank=True)
    visitor_note = models.CharField(_("note for the visitor"), max_length=500, blank=True)

    class Meta:
        abstract = True

    def to_spec(self) -> QuestionSpec:
        return QuestionSpec(
            name=self.name,
            type=QType(self.qtype),
            label_zh=self.label_zh,
            label_en=self.label_en,
            hint_zh=self.hint_zh,
            hint_en=self.hint_en,
            theme=self.theme,
            required=self.required,
            relevant=self.relevant,
            constraint=self.constraint,
            constraint_message_zh=self.constraint_message_zh,
            constraint_message_en=self.constraint_message_en,
            applies=Applies(self.applies),
            choices=[Choice(*c) for c in self.choices],
            visitor_note=self.visitor_note,
        )

    @staticmethod
    def spec_fields(spec: QuestionSpec) -> dict[str, Any]:
        """The columns for ``spec`` (for ``Model(**spec_fields(q))``)."""
        return {
            "name": spec.name,
            "qtype": str(spec.type),
            "label_zh": spec.label_zh,
            "label_en": spec.label_en,
            "hint_zh": spec.hint_zh,
            "hint_en": spec.hint_en,
            "theme": spec.theme,
            "required": spec.required,
            "relevant": spec.relevant,
            "constraint": spec.constraint,
            "constraint_message_zh": spec.constraint_message_zh,
            "constraint_message_en": spec.constraint_message_en,
            "applies": str(spec.applies),
            "choices": [[c.name, c.label_zh, c.label_en] for c in spec.choices],
            "visitor_note": spec.visitor_note,
        }


# --------------------------------------------------------------------------- checklists


class ChecklistState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    MERGED = "merged", _("Merged into the menu")


class Checklist(models.Model):
    """部门清单 — what one county department wants asked at every door this quarter."""

    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        related_name="checklists",
        verbose_name=_("department"),
    )
    county = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    state = models.CharField(
        _("state"), max_length=12, choices=ChecklistState.choices, default=ChecklistState.DRAFT
    )
    #: "" typed in the editor, else the name of the XLSForm file it came from
    source_file = models.CharField(_("imported from"), max_length=255, blank=True)
    #: bumped by every change: a page's save names the revision it edited
    revision = models.PositiveIntegerField(default=1)
    merged_into = models.ForeignKey(
        "menus.MenuVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checklists",
        verbose_name=_("merged into"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("department checklist")
        verbose_name_plural = _("department checklists")
        ordering = ["county_id", "department__name", "-created_at"]

    def __str__(self) -> str:
        return f"{self.department} · {self.title}"


class ChecklistQuestion(QuestionFields):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="questions")

    class Meta:
        ordering = ["checklist_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "name"], name="checklist_question_name")
        ]

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- the menu


class Menu(models.Model):
    """四季菜单 — one county's questionnaire for one quarter, in versions."""

    county = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="menus")
    year = models.PositiveSmallIntegerField(_("year"))
    quarter = models.PositiveSmallIntegerField(_("quarter"))
    title = models.CharField(_("title"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("quarterly menu")
        verbose_name_plural = _("quarterly menus")
        ordering = ["county_id", "-year", "-quarter"]
        constraints = [
            models.UniqueConstraint(fields=["county", "year", "quarter"], name="menu_one_a_quarter")
        ]

    def __str__(self) -> str:
        return self.title


class VersionState(models.TextChoices):
    DRAFT = "draft", _("Being merged")
    APPROVED = "approved", _("Approved")
    PUBLISHED = "published", _("Published")


class MenuVersion(models.Model):
    """One version of a menu. Published, it never changes: an edit is the next version, and
    every answer keeps the version it answered."""

    menu = models.ForeignKey(Menu, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveSmallIntegerField(_("version"))
    state = models.CharField(
        _("state"), max_length=12, choices=VersionState.choices, default=VersionState.DRAFT
    )
    greeting = models.TextField(_("greeting and self-introduction"), blank=True)
    #: the themes in the order the visitor goes through them
    themes = models.JSONField(_("themes"), default=list, blank=True)
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    change_note = models.CharField(_("what changed"), max_length=500, blank=True)
    revision = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("menu version")
        verbose_name_plural = _("menu versions")
        ordering = ["menu_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["menu", "number"], name="menu_version_number"),
            # One draft at a time: two people editing two drafts would each lose the other's.
            models.UniqueConstraint(
                fields=["menu"], condition=Q(state="draft"), name="menu_one_draft"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.menu} v{self.number}"

    @property
    def frozen(self) -> bool:
        return self.state == VersionState.PUBLISHED


class MenuQuestion(QuestionFields):
    """A question of a menu version, with the departments that asked it and, optionally, the
    rule that turns an answer into an issue (``饮水是否正常? 否`` → drinking water, the water
    department, blue, general)."""

    version = models.ForeignKey(MenuVersion, on_delete=models.CASCADE, related_name="questions")
    departments = models.ManyToManyField(Department, related_name="menu_questions", blank=True)
    #: the checklist questions merged into this one
    sources = models.ManyToManyField(ChecklistQuestion, related_name="merged_as", blank=True)
    #: choice names that raise an issue ([] : none)
    issue_on = models.JSONField(_("raise an issue on"), default=list, blank=True)
    issue_category = models.ForeignKey(
        "issues.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issue_department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issue_colour = models.CharField(max_length=8, blank=True)
    issue_complexity = models.CharField(max_length=16, blank=True)
    #: 同村合并: the households of one village raising it join one open issue (a shared thing:
    #: the irrigation power line, the village's water supply); off: each household its own (a
    #: leaking roof, a family's hardship)
    issue_shared = models.BooleanField(_("one issue a village"), default=True)

    class Meta:
        ordering = ["version_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="menu_question_name")
        ]

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- the campaign


class CampaignState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Campaign(models.Model):
    """暖心走访 — a menu taken to every household of a county or a subtree in a window."""

    menu = models.ForeignKey(Menu, on_delete=models.PROTECT, related_name="campaigns")
    #: the version new answers are made with (answers keep the version they were made with)
    version = models.ForeignKey(MenuVersion, on_delete=models.PROTECT, related_name="+")
    county = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    scope = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="menu_campaigns")
    scope_path = models.CharField(max_length=255, editable=False)
    title = models.CharField(_("title"), max_length=200)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    state = models.CharField(
        _("state"), max_length=8, choices=CampaignState.choices, default=CampaignState.OPEN
    )
    #: phone tries before a household may be given up as not reached
    call_limit = models.PositiveSmallIntegerField(_("phone tries"), default=3)
    #: answers given faster than this are flagged for the village to check
    min_seconds = models.PositiveIntegerField(_("shortest plausible visit (seconds)"), default=90)
    #: the same answers from one visitor in at least this many households are flagged
    same_answers_limit = models.PositiveIntegerField(default=10)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on", "-id"]

    def __str__(self) -> str:
        return self.title


class Outcome(models.TextChoices):
    HOME = "home", _("Visited at home")
    PHONE = "phone", _("Reached by phone")
    NOT_REACHED = "not_reached", _("Not reached")


class NotReachedReason(models.TextChoices):
    MOVED_AWAY = "moved_away", _("Moved away")
    EMPTY_HOUSE = "empty_house", _("Empty house")
    REFUSED = "refused", _("Refused")


class CallResult(models.TextChoices):
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    REFUSED = "refused", _("Refused")


class Task(models.Model):
    """One household of the campaign, for the person who answers for it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tasks")
    household = models.ForeignKey(
        "households.Household", on_delete=models.PROTECT, related_name="menu_tasks"
    )
    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    node_path = models.CharField(max_length=255, editable=False)
    place_kind = models.CharField(max_length=8)  # urban / rural: the version it is asked
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="menu_tasks",
        verbose_name=_("visitor"),
    )
    liaison = models.ForeignKey(
        "contacts.Liaison", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    call_attempts = models.PositiveSmallIntegerField(default=0)
    flagged = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("campaign task")
        verbose_name_plural = _("campaign tasks")
        ordering = ["campaign_id", "node_path", "household_id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "household"], name="task_one_a_household")
        ]
        indexes = [
            models.Index(fields=["assignee", "campaign", "outcome"], name="task_assignee"),
            models.Index(fields=["campaign", "node_path"], name="task_campaign_path"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.household_id}"


class Response(models.Model):
    """A task's record: the answers (at home, by phone, or typed in from paper) or why nobody
    was reached. Written once per ``client_uuid``; a replay changes nothing."""

    client_uuid = models.UUIDField(unique=True, editable=False)
    content_hash = models.CharField(max_length=64, editable=False)
    task = models.OneToOneField(Task, on_delete=models.PROTECT, related_name="response")
    version = models.ForeignKey(MenuVersion, on_delete=models.PROTECT, related_name="responses")
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="menu_responses",
        db_index=False,  # response_visitor_hash (visitor, answers_hash) serves it
    )
    #: who typed a paper form in (the visitor otherwise)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    reason = models.CharField(max_length=12, choices=NotReachedReason.choices, blank=True)
    paper = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField()
    answers = RowsJSONField(default=dict)
    #: of the answers alone: the same hash in many households of one visitor is a signal
    answers_hash = models.CharField(max_length=16, blank=True)
    too_fast = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("menu answers")
        verbose_name_plural = _("menu answers")
        indexes = [
            models.Index(fields=["visitor", "answers_hash"], name="response_visitor_hash"),
        ]

    def __str__(self) -> str:
        return str(self.client_uuid)


class CallAttempt(models.Model):
    """One phone try for a household nobody found at home."""

    client_uuid = models.UUIDField(unique=True, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="calls")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    result = models.CharField(max_length=16, choices=CallResult.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["task_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.task_id}: {self.result}"


class RaisedIssue(models.Model):
    """An issue an answer raised (or joined: the village's households reporting one thing)."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="raised")
    question = models.ForeignKey(MenuQuestion, on_delete=models.PROTECT, related_name="+")
    issue = models.ForeignKey("issues.Issue", on_delete=models.PROTECT, related_name="menu_answers")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    joined = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "village", "question"], name="raised_village_q"),
        ]

    def __str__(self) -> str:
        return f"{self.response_id} → {self.issue_id}"


# --------------------------------------------------------------------------- counters


class Progress(models.Model):
    """Live progress of a campaign at one node (grid, village, town, county): written in the
    same transaction as each answer, so reading it counts nothing."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="progress")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    total = models.PositiveIntegerField(default=0)
    unassigned = models.PositiveIntegerField(default=0)
    home = models.PositiveIntegerField(default=0)
    phone = models.PositiveIntegerField(default=0)
    not_reached = models.PositiveIntegerField(default=0)
    issues = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "node"], name="progress_one_a_node")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}@{self.node_id}: {self.done}/{self.total}"

    @property
    def done(self) -> int:
        return self.home + self.phone + self.not_reached


class Tally(models.Model):
    """How often a choice was answered in one village (numbers: how many answered and their
    sum), per question of a version: the departments' results are sums of these."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(MenuQuestion, on_delete=models.CASCADE, related_name="tallies")
    village = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=64, blank=True)  # "" for numbers and texts
    count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=20, decimal_places=4, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "question", "village", "choice"], name="tally_one_a_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.question_id}@{self.village_id} {self.choice}: {self.count}"


# --------------------------------------------------------------------------- back-checks


class BackCheckResult(models.TextChoices):
    PENDING = "pending", _("To call")
    CONFIRMED = "confirmed", _("Confirmed the visit")
    DIFFERS = "differs", _("Says otherwise")
    UNREACHABLE = "unreachable", _("Could not be reached")


class BackCheck(models.Model):
    """抽样回访 — a town draws done households at random and calls them back."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="backchecks")
    town = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    drawn_at = models.DateTimeField(default=timezone.now)
    size = models.PositiveIntegerField()
    seed = models.BigIntegerField()

    class Meta:
        ordering = ["-drawn_at"]

    def __str__(self) -> str:
        return f"{self.campaign_id}@{self.town_id} ({self.size})"


class BackCheckItem(models.Model):
    backcheck = models.ForeignKey(BackCheck, on_delete=models.CASCADE, related_name="items")
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="backchecks")
    result = models.CharField(
        max_length=12, choices=BackCheckResult.choices, default=BackCheckResult.PENDING
    )
    note = models.CharField(max_length=500, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["backcheck_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["backcheck", "task"], name="backcheck_item_once")
        ]

    def __str__(self) -> str:
        return f"{self.backcheck_id}/{self.task_id}: {self.result}"
