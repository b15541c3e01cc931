"""States, colours and levels of an issue: documented constants and the transition guards."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Source(models.TextChoices):
    """Where the problem was found."""

    VISIT = "visit", _("Visit")
    RESIDENT = "resident", _("Resident submission")
    PATROL = "patrol", _("Grid patrol")
    HOTLINE = "hotline", _("Hotline")
    MENU = "menu", _("Quarterly menu answer")
    OTHER = "other", _("Other")


class Colour(models.TextChoices):
    """四色清单: who must solve it. Order matters: a colour can only be raised."""

    GREEN = "green", _("Green — solved on the spot")
    BLUE = "blue", _("Blue — village committee")
    YELLOW = "yellow", _("Yellow — town with county departments")
    ORANGE = "orange", _("Orange — county committee supervises")


COLOUR_ORDER = [c.value for c in Colour]


class Complexity(models.TextChoices):
    GENERAL = "general", _("General")
    COMPLEX = "complex", _("Complex")


class Level(models.TextChoices):
    """The escalation ladder (逐级): who handles or supervises the issue now."""

    VILLAGE = "village", _("Village/community")
    TOWN = "town", _("Town/street")
    DEPARTMENT = "department", _("County department")
    COMMITTEE = "committee", _("County committee")
    ABOVE = "above", _("Above the county")


LEVEL_ORDER = [lvl.value for lvl in Level]

#: The level an issue of each colour starts at.
COLOUR_LEVEL = {
    Colour.GREEN: Level.VILLAGE,
    Colour.BLUE: Level.VILLAGE,
    Colour.YELLOW: Level.TOWN,
    Colour.ORANGE: Level.COMMITTEE,
}


class Status(models.TextChoices):
    """The closed loop. Transitions (services.py):

    registered ─dispatch→ dispatched ─accept→ accepted ─start→ in_progress ─resolve→ resolved
    resolved ─revisit(satisfied)→ revisited ─close→ closed (销号)
    resolved ─revisit(unsatisfied)→ reopened ─start/resolve→ …      (群众不满意不销号)
    dispatched ─return→ returned ─dispatch→ dispatched               (misrouted, with reason)
    any open ─transfer/escalate→ dispatched (to another unit)
    any open ─merge→ merged (its reporters join the surviving issue)
    green issues are registered already resolved by the visitor (solved on the spot).
    """

    REGISTERED = "registered", _("Registered")
    DISPATCHED = "dispatched", _("Dispatched")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    RETURNED = "returned", _("Returned")
    REOPENED = "reopened", _("Reopened")
    RESOLVED = "resolved", _("Resolved")
    REVISITED = "revisited", _("Revisited")
    CLOSED = "closed", _("Closed")
    MERGED = "merged", _("Merged")


class StateSet(frozenset):
    """A frozenset of states that iterates in the order given.

    ``status__in=OPEN_STATES`` then renders the same ``IN (...)`` list in every process (a plain
    frozenset of strings iterates in a per-process hash order), and SQLite uses a partial index
    only when the query repeats the index's condition term for term.
    """

    _order: tuple[str, ...]

    def __new__(cls, states: tuple[str, ...]) -> StateSet:
        made = super().__new__(cls, states)
        made._order = tuple(dict.fromkeys(str(s) for s in states))
        return made

    def __iter__(self):
        return iter(self._order)


#: States in which someone still has to act (deadlines run, the sweep looks at them). The
#: order is that of the partial indexes' condition in ``Issue.Meta``.
OPEN_STATES = StateSet(
    (
        Status.REGISTERED,
        Status.DISPATCHED,
        Status.ACCEPTED,
        Status.IN_PROGRESS,
        Status.RETURNED,
        Status.REOPENED,
    )
)
#: States in which the unit works on it (resolve allowed).
WORKING_STATES = frozenset({Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED})
#: States that still count as "not finished" for the resident (similar-issue lookup, walls).
UNFINISHED_STATES = OPEN_STATES | {Status.RESOLVED, Status.REVISITED}

# The states each step starts from are in the table of steps, ``minqing/issues/actions.py``.


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASIC = "basic", _("Basically satisfied")
    UNSATISFIED = "unsatisfied", _("Unsatisfied")


class ContactMode(models.TextChoices):
    PHONE = "phone", pgettext_lazy("contact mode", "Phone call")
    HOME = "home", _("Home visit")
    WECHAT = "wechat", _("WeChat")


class EventAction(models.TextChoices):
    """What a timeline entry (``IssueEvent.action``) records, with what the page calls it; its
    audit row's action is ``AuditAction.for_issue_step(action)``."""

    REGISTER = "register", _("Registered")
    ADD_REPORTER = "add_reporter", _("Another household reported it")
    DISPATCH = "dispatch", _("Dispatched")
    ACCEPT = "accept", _("Accepted")
    START = "start", _("Work started")
    RETURN = "return", _("Returned as misrouted")
    TRANSFER = "transfer", _("Passed on")
    RESOLVE = "resolve", _("Resolved, residents replied to")
    REVISIT = "revisit", _("Revisited")
    REOPEN = "reopen", _("Reopened: resident not satisfied")
    CLOSE = "close", _("Closed (销号)")
    SAMPLE_REVISIT = "sample_revisit", _("Sample revisit")
    ESCALATE = "escalate", _("Escalated")
    OVERDUE = "overdue", _("Overdue at the top of the ladder")
    EXTENSION_REQUEST = "extension_request", _("More time requested")
    EXTENSION_APPROVED = "extension_approved", _("More time approved")
    EXTENSION_REFUSED = "extension_refused", _("More time refused")
    MERGE = "merge", _("Merged into another issue")
    MERGED_IN = "merged_in", _("Another issue merged in")
    RAISE_COLOUR = "raise_colour", _("Colour raised")
    CALL_DEPARTMENTS = "call_departments", _("Departments called (吹哨)")
    CHECK_IN = "check_in", _("Department reported in (报到)")
    OFFER = "offer", _("Offered to co-building units")
    TAKE = "take", _("Order taken")
    EDIT = "edit", _("Edited")
    PHOTO = "photo", _("Photo added")
