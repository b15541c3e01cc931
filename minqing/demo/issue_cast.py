"""Who, where, what and when of the demo issues (``minqing.demo.issues``): the places of real
households, the people who act for each unit, made-up texts, and the deadline clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from minqing.accounts.models import Role, RoleAssignment, User
from minqing.demo import names
from minqing.demo.issue_texts import fake_issue_texts
from minqing.issues import deadlines
from minqing.issues.models import DeadlineRule, Level, Status
from minqing.org.models import Department, Kind
from minqing.workdays.selectors import WorkCalendar, work_calendar

if TYPE_CHECKING:
    from minqing.demo.plan import CountyPlan

#: (name, code) of the county departments; the codes are those the default categories route to.
DEPARTMENTS = (
    ("区水利局", "water"),
    ("供电公司", "power"),
    ("区交通运输局", "transport"),
    ("区住建局", "housing"),
    ("区自然资源和规划局", "natres"),
    ("区人社局", "social"),
    ("区民政局", "civil"),
    ("区卫健委", "health"),
    ("区教育局", "education"),
    ("区生态环境分局", "ecology"),
    ("公安分局", "police"),
    ("区司法局", "justice"),
    ("区农业农村局", "agri"),
    ("区城管局", "urban"),
    ("区市场监管局", "market"),
)
CO_BUILDING_UNITS = (("爱心超市", "shop"), ("农商银行谯城支行", "bank"))

#: The demo logins that act for their own units (``minqing.demo.users``).
DEMO_ACTORS = ("county", "town", "village", "grid", "water", "shop")


@dataclass(slots=True)
class Place:
    household_id: int | None
    node_id: int
    village_id: int
    town_id: int
    path: str
    urban: bool


@dataclass(slots=True)
class Draft:
    """One issue being written: its columns, timeline, reporters, revisits and late records."""

    place: Place
    category_id: int
    department_code: str
    title: str
    description: str
    source: str
    colour: str
    complexity: str
    created_at: dt.datetime
    story: str = ""
    id: int = 0
    status: str = Status.REGISTERED
    level: str = Level.VILLAGE
    owner_node_id: int | None = None
    owner_department_id: int | None = None
    responsible_id: int | None = None
    offered: bool = False
    stage_started_at: dt.datetime | None = None
    warn_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    final_due_at: dt.datetime | None = None
    escalations: int = 0
    merged_into: Draft | None = None
    resolution: str = ""
    created_by_id: int | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    # (at, actor id, action, from, to, note, data); data values may be drafts (ids come later)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    # [household id, name, phone, phone hash, words, reported at, reply, replied at, by]
    reporters: list[list[Any]] = field(default_factory=list)
    revisits: list[tuple[Any, ...]] = field(default_factory=list)
    late: list[tuple[Any, ...]] = field(default_factory=list)


class Clock:
    """``deadlines.schedule`` for many issues: the rules and the calendar read once.

    Handling and stage deadlines depend only on the local date they start on
    (``WorkCalendar.add_workdays``/``add_months``), so they are computed once per date; the
    yellow-light instant depends on the exact start and is computed per issue.

    A deadline in a year whose holidays nobody has entered yet (e.g. next January, built in
    December) is estimated, as the calendar page would before the county enters the year: the
    demo must build on any date; the years are reported.
    """

    def __init__(self) -> None:
        self.cal: WorkCalendar = work_calendar()
        self.tz = timezone.get_default_timezone()
        self.rules = {
            (r.colour, r.complexity): (r.amount, r.unit) for r in DeadlineRule.objects.all()
        }
        self._by_date: dict[tuple[int, str, dt.date], dt.datetime] = {}

    @property
    def estimated(self) -> frozenset[int]:
        """The years whose deadlines were estimated: nobody has entered their holidays."""
        return self.cal.estimated_years

    def _retry(self, compute: Callable[[WorkCalendar], Any]) -> Any:
        # The calendar that answered keeps the estimated years for the next deadlines.
        result, self.cal = self.cal.estimating(compute)
        return result

    def _add(self, start: dt.datetime, amount: int, unit: str) -> dt.datetime:
        key = (amount, unit, start.astimezone(self.tz).date())
        due = self._by_date.get(key)
        if due is None:
            months = unit == "months"
            due = self._by_date[key] = self._retry(
                lambda cal: (cal.add_months if months else cal.add_workdays)(start, amount)
            )
        return due

    def final(self, colour: str, complexity: str, start: dt.datetime) -> dt.datetime:
        """``deadlines.handling_due``."""
        fallback = (5, "workdays") if complexity == "general" else (1, "months")
        return self._add(start, *self.rules.get((colour, complexity), fallback))

    def due(self, start: dt.datetime, final: dt.datetime, handle: bool) -> dt.datetime:
        """Due time of a stage started at ``start``: dispatch/accept (``deadlines.stage_due``),
        or handling."""
        if handle:
            return final
        return min(self._add(start, deadlines.STAGE_WORKDAYS, "workdays"), final)

    def warn(self, start: dt.datetime, due: dt.datetime) -> dt.datetime:
        """``deadlines.warn_time``: the costly part, so only for each issue's last stage."""
        return self._retry(lambda cal: deadlines.warn_time(start, due, cal))


def light(now: dt.datetime, due: dt.datetime, warn: dt.datetime) -> str:
    if now > due:
        return "red"
    return "yellow" if now >= warn else "green"


class Actors:
    """Who acts for each unit: the demo logins for theirs, a generated account elsewhere."""

    def __init__(self, plan: CountyPlan, departments: dict[str, Department]) -> None:
        demo = {
            (a.role, a.node_id, a.department_id): a.user_id
            for a in RoleAssignment.objects.filter(user__username__in=DEMO_ACTORS)
        }
        self.county = demo.get((Role.COMMAND_CENTRE, plan.county.id, None))
        self.grid = {n: u for (r, n, _), u in demo.items() if r == Role.GRID_WORKER}
        self.node: dict[int, int] = {}
        self.department: dict[int, int] = {}
        wanted: list[tuple[User, str, int | None, int | None]] = []
        rng = random.Random(plan.county.id)
        taken = set(
            User.objects.filter(username__startswith="staff-").values_list("username", flat=True)
        )
        levels = [(t.node, Role.TOWN_STAFF) for t in plan.towns]
        levels += [(v.node, Role.VILLAGE_CADRE) for v in plan.villages]
        for node, role in levels:
            if (role, node.id, None) in demo:
                self.node[node.id] = demo[(role, node.id, None)]
            else:
                name = f"staff-{node.code}"
                wanted.append((_staff(rng, name, taken, node.id), role, node.id, None))
        for code, department in departments.items():
            role = Role.CO_BUILDING_UNIT if department.kind == "co_building" else Role.DEPARTMENT
            if (role, None, department.pk) in demo:
                self.department[department.pk] = demo[(role, None, department.pk)]
            else:
                name = f"staff-{code}"
                wanted.append((_staff(rng, name, taken, department.pk), role, None, department.pk))
        User.objects.bulk_create([w[0] for w in wanted])
        RoleAssignment.objects.bulk_create(
            RoleAssignment(user=user, role=role, node_id=node, department_id=dept)
            for user, role, node, dept in wanted
        )
        for user, _role, node_id, department_id in wanted:
            if node_id is not None:
                self.node[node_id] = user.pk
            elif department_id is not None:
                self.department[department_id] = user.pk
        self.created = len(wanted)
        ids = {*self.node.values(), *self.department.values()}
        self.names = dict(User.objects.filter(pk__in=ids).values_list("pk", "full_name"))
        if self.county is not None:
            self.node.setdefault(plan.county.id, self.county)

    def unit(self, node_id: int | None, department_id: int | None) -> int | None:
        if department_id is not None:
            return self.department.get(department_id)
        return self.node.get(node_id) if node_id is not None else None


def _staff(rng: random.Random, username: str, taken: set[str], unique: int) -> User:
    """A generated member of staff; the name gets the unit's id if another county has it."""
    sex = "M" if rng.random() < 0.6 else "F"
    return User(
        username=username if username not in taken else f"{username}-{unique}",
        full_name=names.surname(rng) + names.given_name(rng, sex, rng.randint(1968, 1996)),
        password=make_password(None),
        password_changed_at=timezone.now(),
    )


class Households:
    """Households by id, from the plan (ids are consecutive grid by grid), and their places."""

    def __init__(self, plan: CountyPlan) -> None:
        self.starts: list[int] = []
        self.grids: list[tuple[int, Place]] = []  # (households, place without household)
        self.villages: dict[int, tuple[int, int]] = {}  # village id → (first id, count)
        for village in plan.villages:
            first = village.first_household_id
            self.villages[village.node.id] = (first, village.households)
            urban = village.node.kind == Kind.URBAN
            for grid in village.grids:
                if grid.households:
                    place = Place(
                        None,
                        grid.node.id,
                        village.node.id,
                        village.node.parent_id or 0,
                        grid.node.path,
                        urban,
                    )
                    self.starts.append(first)
                    self.grids.append((grid.households, place))
                first += grid.households
        self.first = self.starts[0] if self.starts else 0
        self.last = plan.villages[-1].first_household_id + plan.villages[-1].households - 1

    def place(self, household_id: int) -> Place:
        k = bisect.bisect_right(self.starts, household_id) - 1
        base = self.grids[k][1]
        return Place(
            household_id, base.node_id, base.village_id, base.town_id, base.path, base.urban
        )

    def neighbour(self, rng: random.Random, village_id: int, besides: set[int]) -> int | None:
        first, count = self.villages[village_id]
        for _ in range(5):
            candidate = first + rng.randrange(count)
            if candidate not in besides:
                return candidate
        return None


class Texts:
    """Made-up titles and descriptions that fit rural villages or urban communities."""

    def __init__(self, rng: random.Random, categories: dict[str, tuple[int, str, str]]) -> None:
        self.rng = rng
        self.categories = categories  # code → (id, kind, department code)
        self.pool: dict[bool, list[tuple[str, str, str]]] = {True: [], False: []}
        self.by_code: dict[str, list[tuple[str, str, str]]] = defaultdict(list)

    def _fill(self, n: int) -> None:
        for text in fake_issue_texts(self.rng, n):
            if text[0] not in self.categories:
                continue
            kind = self.categories[text[0]][1]
            for urban in (True, False):
                if kind != (Kind.RURAL if urban else Kind.URBAN):
                    self.pool[urban].append(text)

    def take(self, urban: bool) -> tuple[str, str, str]:
        if not self.pool[urban]:
            self._fill(5000)
        return self.pool[urban].pop()

    def like(self, code: str) -> tuple[str, str, str]:
        while not self.by_code[code]:
            for text in fake_issue_texts(self.rng, 2000):
                self.by_code[text[0]].append(text)
        return self.by_code[code].pop()
