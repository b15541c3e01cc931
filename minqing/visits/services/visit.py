"""Recording a visit (民情日记): one service for the page, the offline queue and the API.

A visit is written once per ``client_uuid``. The phone makes the id when the visit is typed, so
whatever happens to the connection the server sees the same record: a replay (same id, same
content) answers the visit already saved and changes nothing; the same id with other content is
a conflict (409), never an overwrite (docs/SECURITY-BAR.md §17). Problems raised on the visit are
registered as issues in the same transaction — a visit and its issues are saved together or not
at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.households.models import ArchiveChange, Household
from minqing.issues.models import Category, Colour, Source
from minqing.issues.services import issue_register
from minqing.lib.context import AuditContext
from minqing.lib.text import clean_text
from minqing.org.models import Node
from minqing.visits.errors import VisitErrorCode
from minqing.visits.models import (
    DEFAULT_LOOKBACK_DAYS,
    HOME_MODES,
    MIN_LOOKBACK_DAYS,
    Mode,
    NightVisitPlan,
    Visit,
    VisitTask,
)

#: What recording a visit reads of the household (and its grid, for the issues' place).
HOUSEHOLD_FIELDS = (
    "id",
    "node__path",
    "node__level",
    "node__parent_id",
    "village_id",
    "head_name",
    "seal_id",  # the phone is checked against it when read
    "phone",
    "version",
    "family_situation",
)
#: A phone's clock may run a little fast; a visit further in the future is refused.
CLOCK_SKEW = dt.timedelta(minutes=10)
MAX_PROBLEMS = 5


class DuplicateVisit(Exception):
    """The client id is taken by a different record (answer 409)."""

    code = VisitErrorCode.DUPLICATE

    def __init__(self, visit: Visit) -> None:
        super().__init__(_("Another record was already saved under this id."))
        self.visit = visit


@dataclass
class Problem:
    """A problem raised on the visit: registered as an issue of the household."""

    colour: str
    description: str
    category: str = ""  # a Category code; empty: guessed from alike issues, else "other"
    resolution: str = ""  # green: what was done on the spot


@dataclass
class VisitInput:
    client_uuid: uuid.UUID
    household_id: int
    mode: str
    visited_at: dt.datetime
    notes: str = ""
    materials: str = ""
    problems: list[Problem] = field(default_factory=list)
    companion_ids: list[int] = field(default_factory=list)
    situation: str | None = None  # the family situation as the visitor found it
    household_version: int | None = None
    night_plan_id: int | None = None  # the night visit (民情夜访) this visit was a stop of

    def digest(self) -> str:
        """What makes two submissions "the same record" (order of companions aside)."""
        data = {
            "household": self.household_id,
            "mode": self.mode,
            "visited_at": self.visited_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "notes": self.notes.strip(),
            "materials": self.materials.strip(),
            "problems": [
                [p.colour, p.category, p.description.strip(), p.resolution.strip()]
                for p in self.problems
            ],
            "companions": sorted(set(self.companion_ids)),
            "situation": (self.situation or "").strip(),
        }
        if self.night_plan_id is not None:  # absent otherwise: older records keep their hash
            data["night_plan"] = self.night_plan_id
        return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Recorded:
    visit: Visit
    created: bool  # False: a replay of a record already saved
    archive_updated: bool = False
    issue_ids: list[int] | None = None  # known when created; None: read them from the visit

    def issues(self) -> list[int]:
        if self.issue_ids is not None:
            return self.issue_ids
        return sorted(self.visit.issues.values_list("pk", flat=True))


def visit_record(*, by: User, data: VisitInput, context: AuditContext | None = None) -> Recorded:
    """走访登记 — save a visit and the problems raised on it.

    Raises ``Household.DoesNotExist`` for a household out of the visitor's scope (answer 404),
    ``ValidationError`` for bad input, ``DuplicateVisit`` for a taken id.
    """
    digest = data.digest()
    existing = _existing(data.client_uuid, digest, by)
    if existing is not None:
        return Recorded(existing, created=False)
    household = (
        Household.objects.visible_to(by)
        .select_related("node")
        .only(*HOUSEHOLD_FIELDS)
        .get(pk=data.household_id)
    )
    _validate(data, household)
    night_plan = _night_plan(data.night_plan_id, household)
    categories = _categories(data.problems, household) if data.problems else []
    companions = _companions(by, household, data.companion_ids)
    # Read before the write transaction, which holds SQLite's one write lock: keep it short.
    open_tasks = data.mode in HOME_MODES and (
        VisitTask.objects.filter(household=household, done_at__isnull=True).exists()
    )
    try:
        with transaction.atomic():
            visit = Visit.objects.create(
                client_uuid=data.client_uuid,
                content_hash=digest,
                household=household,
                village_id=household.village_id,
                node_path=household.node.path,
                visitor=by,
                mode=data.mode,
                visited_at=data.visited_at,
                notes=data.notes.strip(),
                materials=data.materials.strip(),
                night_plan=night_plan,
            )
            if companions:
                visit.companions.set(companions)
            issues = [
                issue_register(
                    by=by,
                    node=household.node,
                    household=household,
                    category=categories[i],
                    description=p.description,
                    colour=p.colour,
                    source=Source.VISIT,
                    resolution=p.resolution,
                    context=context,
                )
                for i, p in enumerate(data.problems)
            ]
            if issues:
                visit.issues.set(issues)
            if open_tasks:
                # 必到: a visit in person does every open must-visit task of the household.
                VisitTask.objects.filter(household=household, done_at__isnull=True).update(
                    done_at=data.visited_at
                )
            updated = _update_archive(by, household, data, visit)
            audit_record(
                action=AuditAction.VISIT_RECORD,
                user=by,
                context=context,
                obj=visit,
                detail={
                    "household": household.pk,
                    "mode": data.mode,
                    "issues": [i.pk for i in issues],
                },
            )
    except IntegrityError:
        # Another request saved the same id between our check and our insert.
        existing = _existing(data.client_uuid, digest, by)
        if existing is None:
            raise
        return Recorded(existing, created=False)
    return Recorded(
        visit, created=True, archive_updated=updated, issue_ids=sorted(i.pk for i in issues)
    )


def _existing(client_uuid: uuid.UUID, digest: str, by: User) -> Visit | None:
    visit = Visit.objects.filter(client_uuid=client_uuid).order_by().first()
    if visit is None:
        return None
    if visit.content_hash != digest or visit.visitor_id != by.pk:
        raise DuplicateVisit(visit)
    return visit


def _validate(data: VisitInput, household: Household) -> None:
    errors: dict[str, ValidationError] = {}
    if data.mode not in Mode.values:
        errors["mode"] = ValidationError(
            _("Choose how you met the household."), code=VisitErrorCode.UNKNOWN_MODE
        )
    refusal = _time_problem(data.visited_at, household)
    if refusal is not None:
        errors["visited_at"] = refusal
    for name, value, limit in (("notes", data.notes, 2000), ("materials", data.materials, 200)):
        try:
            clean_text(value, name, required=False, max_length=limit)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.error_dict.items()})
    if len(data.problems) > MAX_PROBLEMS:
        errors["problems"] = ValidationError(
            _("At most %(n)d problems per visit.") % {"n": MAX_PROBLEMS},
            code=VisitErrorCode.TOO_MANY_PROBLEMS,
        )
    for i, p in enumerate(data.problems, start=1):
        key = f"problems.{i}"
        if p.colour not in Colour.values:
            errors[key] = ValidationError(
                _("Problem %(n)d: choose a colour.") % {"n": i}, code=VisitErrorCode.PROBLEM_COLOUR
            )
        elif not p.description.strip():
            errors[key] = ValidationError(
                _("Problem %(n)d: say what the problem is.") % {"n": i},
                code=VisitErrorCode.PROBLEM_DESCRIPTION,
            )
        elif p.colour == Colour.GREEN and not p.resolution.strip():
            errors[key] = ValidationError(
                _("Problem %(n)d: say what was done on the spot.") % {"n": i},
                code=VisitErrorCode.PROBLEM_RESOLUTION,
            )
        elif len(p.description.strip()) > 2000 or len(p.resolution.strip()) > 2000:
            errors[key] = ValidationError(
                _("Problem %(n)d: at most %(limit)d characters, please.")
                % {
                    "n": i,
                    "limit": 2000,
                },
                code=VisitErrorCode.PROBLEM_TOO_LONG,
            )
    if data.situation is not None and len(data.situation) > 2000:
        errors["situation"] = ValidationError(
            _("At most %(n)d characters, please.") % {"n": 2000},
            code=VisitErrorCode.SITUATION_TOO_LONG,
        )
    if errors:
        raise ValidationError(errors)


def _time_problem(visited_at: dt.datetime, household: Household) -> ValidationError | None:
    """Why the visit time is refused (``None`` when it is fine).

    The phone sends its own time with its UTC offset (ISO 8601), so a phone in another time
    zone compares as the same instant; a clock a few minutes fast passes (``CLOCK_SKEW``). A
    visit may be dated before the household was entered — paper diaries are typed in later, a
    ledger imported today holds households that lived there before — but not further back than
    the county's look-back (``VisitSettings.lookback_days``, by the county's calendar).
    """
    from minqing.visits.services.cadence import settings_for

    if timezone.is_naive(visited_at):
        return ValidationError(
            _("Give the time with its time zone."), code=VisitErrorCode.NO_TIME_ZONE
        )
    now = timezone.now()
    if visited_at > now + CLOCK_SKEW:
        message = _("A visit cannot be in the future (it is %(now)s now).") % {
            "now": timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
        }
        return ValidationError(message, code=VisitErrorCode.IN_FUTURE)
    today, day = timezone.localdate(now), timezone.localdate(visited_at)
    if day >= today - dt.timedelta(days=MIN_LOOKBACK_DAYS):
        return None  # within every county's look-back: no need to read it (most visits)
    county = Node.objects.county_on_path(household.node.path)
    days = settings_for(county).lookback_days if county is not None else DEFAULT_LOOKBACK_DAYS
    earliest = today - dt.timedelta(days=days)
    if day < earliest:
        message = _(
            "This visit is dated before %(date)s: the county accepts visits up to %(days)d days "
            "back."
        ) % {"date": earliest.isoformat(), "days": days}
        return ValidationError(message, code=VisitErrorCode.BEFORE_LOOKBACK)
    return None


def _night_plan(plan_id: int | None, household: Household) -> Any:
    """The night visit named by the form: the household must be one of its stops."""
    if plan_id is None:
        return None
    plan = NightVisitPlan.objects.filter(pk=plan_id, stops__household=household).first()
    if plan is None:
        raise ValidationError(
            {
                "night": ValidationError(
                    _("This household is not a stop of that night visit."),
                    code=VisitErrorCode.NOT_A_STOP,
                )
            }
        )
    return plan


def _categories(problems: list[Problem], household: Household) -> list[Category]:
    """Each problem's category: the one chosen, else the commonest among alike issues, else
    "other" — a visitor in a farmyard should not have to know the taxonomy."""
    from minqing.issues import similarity

    active = {c.code: c for c in Category.objects.filter(active=True)}
    chosen: list[Category] = []
    for i, p in enumerate(problems, start=1):
        if p.category:
            if p.category not in active:
                raise ValidationError(
                    {
                        f"problems.{i}": ValidationError(
                            _("Unknown category."), code=VisitErrorCode.UNKNOWN_CATEGORY
                        )
                    }
                )
            chosen.append(active[p.category])
            continue
        town_id = Node.objects.filter(pk=household.village_id).values_list("parent_id", flat=True)[
            0
        ]
        guess = similarity.guess_category(
            p.description, town_id=town_id, village_id=household.village_id
        )
        by_id = {c.pk: c for c in active.values()}
        chosen.append((by_id.get(guess) if guess is not None else None) or active["other"])
    return chosen


def _companions(by: User, household: Household, ids: list[int]) -> list[Any]:
    """Team members: accounts that may see the household too (a team visits together)."""
    from minqing.accounts.models import User
    from minqing.accounts.scope import scope_for

    wanted = set(ids) - {by.pk}
    if not wanted:
        return []
    people = list(User.objects.filter(pk__in=wanted, is_active=True))
    if len(people) != len(wanted) or not all(
        scope_for(u).covers_path(household.node.path) for u in people
    ):
        raise ValidationError(
            {
                "companions": ValidationError(
                    _("Only people who look after this place."),
                    code=VisitErrorCode.COMPANION_OUT_OF_SCOPE,
                )
            }
        )
    return people


def _update_archive(by: User, household: Household, data: VisitInput, visit: Visit) -> bool:
    """The archive follows the visit: a changed family situation is written to the household
    (as an edit of the version the visitor saw; a later edit by someone else wins, and the
    visitor's text stays on the visit notes; so it does when the visit names no version)."""
    text = (data.situation or "").strip()
    if not text or text == household.family_situation:
        return False
    # Without the version the visitor saw, a write could overwrite a later edit unseen
    # (docs/SECURITY-BAR.md §18): the words then stay on the visit, like a stale one's.
    if data.household_version is None or data.household_version != household.version:
        visit.notes = "\n".join(filter(None, [visit.notes, _("Family situation: ") + text]))
        visit.save(update_fields=["notes"])
        return False
    old = household.family_situation
    changed = Household.objects.filter(pk=household.pk, version=household.version).update(
        family_situation=text, version=household.version + 1, updated_at=timezone.now()
    )
    if not changed:
        return False
    ArchiveChange.objects.create(
        household=household,
        actor=by,
        action=ArchiveChange.Action.UPDATE,
        changes=[["family_situation", old, text]],
    )
    return True
