"""The stories of the demo issues: each method of ``StoryTeller`` leaves a ``Draft`` as the
issue services would have left it — status, owner, deadlines, timeline, replies, revisits.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext

from minqing.demo.issue_cast import (
    CO_BUILDING_UNITS,
    Actors,
    Clock,
    Draft,
    Households,
    Place,
    Texts,
    light,
)
from minqing.issues.actions import COLOUR_TARGET_LEVELS
from minqing.issues.models import COLOUR_LEVEL, Category, Colour, Level, Source, Status

if TYPE_CHECKING:
    from minqing.demo.plan import CountyPlan
    from minqing.org.models import Department

SOURCES = {
    Source.VISIT: 50,
    Source.MENU: 15,
    Source.RESIDENT: 15,
    Source.HOTLINE: 10,
    Source.PATROL: 10,
}
RESOLUTIONS = (
    "已联系{unit}上门查看，现场处理完毕。",
    "{unit}已安排人员维修，问题已解决。",
    "经{unit}协调，已按政策办理。",
    "{unit}核实情况后已落实，向群众当面说明。",
    "已协调相关单位处理到位，群众认可。",
)
REPLIES = (
    "您反映的问题已处理，请查看，有问题随时联系。",
    "已按您反映的情况办理完毕，谢谢您的监督。",
    "问题已解决，如再出现请告诉网格员。",
)
EXTRA_WORDS = ("我家也是这个情况", "邻居也反映过", "盼早点解决", "")
UNSATISFIED = ("修了没几天又坏了", "问题没有彻底解决", "说好的事情没落实")
RETURN_REASONS = ("不属于本单位职责，请重新派单", "情况与描述不符，需先核实现场")
TRIES = 8
#: Age of the current stage as a share of its nominal length: first guess, and bounds.
NOMINAL_AGES = {"green": (0.02, 0.62), "yellow": (0.72, 0.97), "red": (1.05, 2.2)}
AGES = {"green": (0.0, 0.7), "yellow": (0.5, 1.5), "red": (0.9, 4.0)}
URGENCY = {"green": 0, "yellow": 1, "red": 2}


class StoryTeller:
    """Tells the stories: each method leaves a draft as the services would have left it."""

    def __init__(
        self, plan: CountyPlan, seed: int, now: dt.datetime, departments: dict[str, Department]
    ) -> None:
        self.rng = random.Random(seed * 7919 + 13)
        self.now = now
        self.tz = timezone.get_default_timezone()
        self.clock = Clock()
        self.households = Households(plan)
        self.departments = departments
        self.dept_by_id = {d.pk: d for d in departments.values()}
        self.actors = Actors(plan, departments)
        self.names = {n.id: n.name for n in plan.nodes}
        self.county_id = plan.county.id
        cats = Category.objects.values_list("code", "id", "kind", "department_code")
        self.categories = {code: (pk, kind, dept) for code, pk, kind, dept in cats}
        self.texts = Texts(self.rng, self.categories)
        self.sources = list(SOURCES)
        self.source_weights = list(SOURCES.values())
        self.periods: dict[tuple[str, str], dt.timedelta] = {}
        self.age = 0.3

    # -- time ----------------------------------------------------------------------------------
    def office(self, t: dt.datetime) -> dt.datetime:
        """Squeeze the time of day into 8:00–18:00 (order kept), never after now."""
        local = t.astimezone(self.tz)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return min(self.now, day + dt.timedelta(seconds=8 * 3600 + seconds * 10 // 24))

    def between(self, a: dt.datetime, b: dt.datetime, lo: float = 0.1, hi: float = 0.9):
        return min(b, max(a, self.office(a + (b - a) * self.rng.uniform(lo, hi))))

    def before(self, t: dt.datetime, hours: float) -> dt.datetime:
        """Some ``hours`` before ``t`` in office time, never after it."""
        return min(t, self.office(t - dt.timedelta(hours=hours)))

    def ago(self, period: dt.timedelta) -> dt.datetime:
        """The start of a stage ``self.age`` of ``period`` ago (``tell`` aims the age)."""
        return self.office(self.now - period * self.age)

    def period(self, d: Draft, handle: bool) -> dt.timedelta:
        key = (d.colour, d.complexity) if handle else ("", "")
        if key not in self.periods:
            final = self.clock.final(d.colour, d.complexity, self.now)
            due = self.clock.due(self.now, final, handle)
            self.periods[key] = due - self.now
        return self.periods[key]

    # -- the draft -----------------------------------------------------------------------------
    def draft(self, colour: str, place: Place | None = None, code: str = "") -> Draft:
        """A new problem: a household (none if found on patrol), a text that fits the place."""
        rng = self.rng
        source = rng.choices(self.sources, self.source_weights)[0]
        if place is None:
            household = rng.randint(self.households.first, self.households.last)
            place = self.households.place(household)
            if source == Source.PATROL:
                place.household_id = None
        if code:
            _code, title, description = self.texts.like(code)
        else:
            code, title, description = self.texts.take(place.urban)
        category_id, _kind, department_code = self.categories[code]
        return Draft(
            place=place,
            category_id=category_id,
            department_code=department_code,
            title=title,
            description=description,
            source=source,
            colour=colour,
            complexity="complex" if rng.random() < 0.2 and colour != Colour.GREEN else "general",
            created_at=self.now,
        )

    def colour(self) -> str:
        r = self.rng.random()
        return Colour.BLUE if r < 0.6 else Colour.YELLOW if r < 0.93 else Colour.ORANGE

    def label(self, node_id: int | None, department_id: int | None) -> str:
        if department_id is not None:
            return self.dept_by_id[department_id].name
        return self.names.get(node_id or 0, "")

    def level_unit(self, d: Draft, level: str) -> int:
        if level == Level.VILLAGE:
            return d.place.village_id
        if level == Level.TOWN:
            return d.place.town_id
        return self.county_id

    def event(self, d: Draft, at, actor, action: str, status: str = "", note="", **data):
        """One timeline row, as ``services.record`` writes it (from the current status)."""
        d.events.append((at, actor, action, d.status, status or d.status, note, data))
        d.status = status or d.status

    def schedule(self, d: Draft, start: dt.datetime, stage: str, new_final: bool = False):
        """``deadlines.schedule``; the yellow-light time waits for ``light`` (last stage only)."""
        if new_final or d.final_due_at is None:
            d.final_due_at = self.clock.final(d.colour, d.complexity, start)
        d.due_at = self.clock.due(start, d.final_due_at, stage == "handle")
        d.stage_started_at, d.warn_at = start, None

    def light(self, d: Draft) -> str:
        """The light at build time, setting the yellow-light time of the current stage."""
        if d.warn_at is None and d.due_at is not None and d.stage_started_at is not None:
            d.warn_at = self.clock.warn(d.stage_started_at, d.due_at)
        assert d.due_at is not None and d.warn_at is not None, "told before it was registered"
        return light(self.now, d.due_at, d.warn_at)

    def supervisor(self, d: Draft) -> int | None:
        return self.actors.unit(self.level_unit(d, d.level), None)

    # -- steps ---------------------------------------------------------------------------------
    def register(self, d: Draft, at: dt.datetime) -> None:
        d.created_at = at
        d.level = COLOUR_LEVEL[Colour(d.colour)]
        d.owner_node_id = self.level_unit(d, d.level)
        d.created_by_id = self.actors.grid.get(d.place.node_id) or self.actors.unit(
            d.place.village_id, None
        )
        self.schedule(d, at, "dispatch", new_final=True)
        if d.place.household_id is not None:
            d.reporters.append([d.place.household_id, "", None, "", "", at, "", None, None])
        data = {"colour": d.colour, "source": d.source, "owner": self.label(d.owner_node_id, None)}
        d.events.append(
            (at, d.created_by_id, "register", "", Status.REGISTERED, d.description, data)
        )

    def add_reporters(self, d: Draft) -> None:
        """Neighbours reporting the same problem soon after (``issue_add_reporter``); they get
        the replies the first reporter got."""
        if d.place.household_id is None or self.rng.random() > 0.15:
            return
        first = d.reporters[0]
        until = d.events[1][0] if len(d.events) > 1 else self.now
        have = {first[0]}
        added = []
        for _ in range(self.rng.randint(1, 3)):
            household = self.households.neighbour(self.rng, d.place.village_id, have)
            if household is None:
                continue
            have.add(household)
            at = self.between(d.created_at, until, 0.0, 1.0)
            words = self.rng.choice(EXTRA_WORDS)
            row = [household, "", None, "", words, at, first[6], first[7], first[8]]
            d.reporters.append(row)
            data = {"reporter": row, "household": household}
            status = d.events[0][4]
            added.append((at, d.created_by_id, "add_reporter", status, status, words, data))
        # right after the registration, before the next step even at the same instant
        d.events[1:1] = sorted(added, key=lambda e: e[0])
        # they were waiting for the reply too when it was resolved (in order of reporting)
        for e in d.events:
            if e[2] == "resolve":
                e[6]["replies"] = sorted(
                    e[6]["replies"] + [(a[6]["reporter"], first[6]) for a in added],
                    key=lambda pair: pair[0][5],
                )

    def dispatch_to(self, d: Draft) -> tuple[int | None, int | None]:
        dept = self.departments.get(d.department_code)
        if d.colour == Colour.BLUE or (d.colour == Colour.YELLOW and dept is None):
            return (d.place.village_id, None)
        r = self.rng.random()
        if dept is not None and (d.colour == Colour.ORANGE or r < 0.55):
            return (None, dept.pk)
        return (d.place.village_id if r < 0.85 else d.place.town_id, None)

    def target_level(self, d: Draft, to: tuple[int | None, int | None]) -> str:
        """The level a dispatch puts the issue in the hands of (``handling._target``)."""
        node, department = to
        if department is not None:
            return Level.DEPARTMENT
        if node == d.place.village_id:
            return Level.VILLAGE
        return Level.TOWN if node == d.place.town_id else Level.COMMITTEE

    def dispatch(self, d: Draft, at: dt.datetime, to: tuple[int | None, int | None]) -> None:
        by = self.supervisor(d)
        d.owner_node_id, d.owner_department_id = to
        self.schedule(d, at, "accept")
        data: dict[str, object] = {"to": self.label(*to)}
        level = self.target_level(d, to)
        if level not in COLOUR_TARGET_LEVELS[d.colour]:
            # another level than the colour's: the dispatcher confirmed it (``issue_dispatch``)
            data |= {"level_confirmed": True, "colour": d.colour, "to_level": level}
        self.event(d, at, by, "dispatch", Status.DISPATCHED, **data)

    def accept(self, d: Draft, at: dt.datetime, action: str = "accept") -> None:
        by = self.actors.unit(d.owner_node_id, d.owner_department_id)
        d.responsible_id = by
        self.schedule(d, at, "handle")
        if action == "take":
            unit = self.label(None, d.owner_department_id)
            self.event(d, at, by, "take", Status.ACCEPTED, unit=unit)
        else:
            name = self.actors.names.get(by or 0, "")
            self.event(d, at, by, "accept", Status.ACCEPTED, responsible=name)

    def offer(self, d: Draft, at: dt.datetime) -> None:
        """Offered to the co-building units (``issue_offer``): any of them may take it, so
        nobody holds it until one does."""
        d.offered = True
        d.owner_node_id = d.owner_department_id = d.responsible_id = None
        self.schedule(d, at, "accept")
        self.event(d, at, self.supervisor(d), "offer", Status.DISPATCHED)

    def start(self, d: Draft, at: dt.datetime) -> None:
        self.event(d, at, d.responsible_id, "start", Status.IN_PROGRESS, note="已到现场查看")

    def resolve(self, d: Draft, at: dt.datetime) -> None:
        by = d.responsible_id or self.actors.unit(d.owner_node_id, d.owner_department_id)
        unit = self.label(d.owner_node_id, d.owner_department_id)
        d.resolution = self.rng.choice(RESOLUTIONS).format(unit=unit)
        d.resolved_at = at
        waiting = [r for r in d.reporters if r[7] is None]
        for r in waiting:
            r[6], r[7], r[8] = self.rng.choice(REPLIES), at, by
        # the timeline keeps each reply given (named once the reporters are: ``issues._write``)
        replies = [(r, r[6]) for r in waiting]
        self.event(d, at, by, "resolve", Status.RESOLVED, note=d.resolution, replies=replies)

    def revisit(self, d: Draft, at: dt.datetime, result: str) -> None:
        by = self.supervisor(d)
        mode = self.rng.choice(("phone", "home", "wechat"))
        words = self.rng.choice(UNSATISFIED) if result == "unsatisfied" else ""
        d.revisits.append((by, at, mode, result, words, False))
        if result == "unsatisfied":
            d.resolved_at = d.closed_at = None
            self.schedule(d, at, "handle", new_final=True)
            self.event(d, at, by, "reopen", Status.REOPENED, note=words, result=result, mode=mode)
            for r in d.reporters:
                r[7] = None
        else:
            self.event(d, at, by, "revisit", Status.REVISITED, result=result, mode=mode)

    def close(self, d: Draft, at: dt.datetime) -> None:
        d.closed_at = at
        self.event(d, at, self.supervisor(d), "close", Status.CLOSED)

    # -- stories -------------------------------------------------------------------------------
    def tell(self, story: str, target: str) -> Draft:
        """An open issue whose light at build time is ``target``: the age of its stage (a
        share of the stage's nominal length) is bisected until the light fits, as weekends,
        holidays and office hours stretch stages unevenly."""
        lo, hi = AGES[target]
        self.age = self.rng.uniform(*NOMINAL_AGES[target])
        for _ in range(TRIES):
            colour = Colour.BLUE if story in ("escalated", "offered", "taken") else self.colour()
            d = self.draft(Colour.YELLOW if story == "returned" else colour)
            if story == "returned" and d.department_code not in self.departments:
                d.department_code = "civil"
            d.story = story
            getattr(self, f"_{story}")(d)
            got = self.light(d)
            if got == target:
                break
            if URGENCY[got] > URGENCY[target]:
                hi = self.age
            else:
                lo = self.age
            self.age = self.rng.uniform(lo, hi)
        if got != target and target == "yellow" and got == "red":
            # a one-day stage cannot be yellow at night (work starts in office hours): green then
            return self.tell(story, "green")
        self.add_reporters(d)
        return d

    def _registered(self, d: Draft) -> None:
        self.register(d, self.ago(self.period(d, False)))

    def _dispatched(self, d: Draft) -> None:
        at = self.ago(self.period(d, False))
        self.register(d, self.before(at, self.rng.uniform(1, 30)))
        self.dispatch(d, at, self.dispatch_to(d))

    def _offered(self, d: Draft) -> None:
        at = self.ago(self.period(d, False))
        self.register(d, self.before(at, self.rng.uniform(1, 30)))
        self.offer(d, at)

    def _escalated(self, d: Draft) -> None:
        at = self.ago(self.period(d, False))
        created = self.before(at, self.rng.uniform(30, 60))
        self.register(d, created)
        while d.due_at is None or d.due_at >= at:
            created = self.before(created, 24)
            d.events.clear()
            d.reporters.clear()
            self.register(d, created)
        village = d.owner_node_id
        d.late.append((Level.VILLAGE, village, None, d.due_at, at))
        d.escalations, d.level, d.owner_node_id = 1, Level.TOWN, d.place.town_id
        self.schedule(d, at, "accept", new_final=True)
        self.event(
            d,
            at,
            None,
            "escalate",
            Status.DISPATCHED,
            note=gettext("Deadline passed: escalated automatically."),
            from_level=Level.VILLAGE,
            to_level=Level.TOWN,
            **{"from": self.label(village, None), "to": self.label(d.owner_node_id, None)},
        )

    def _in_hand(self, d: Draft, take: bool = False) -> dt.datetime:
        created = self.ago(self.period(d, True))
        accepted = self.between(created, self.now, 0.03, 0.3)
        self.register(d, created)
        if take:
            self.offer(d, self.between(created, accepted))
            unit = self.departments[self.rng.choice(CO_BUILDING_UNITS)[1]]
            d.offered, d.owner_department_id = False, unit.pk
            self.accept(d, accepted, "take")
        else:
            self.dispatch(d, self.between(created, accepted), self.dispatch_to(d))
            self.accept(d, accepted)
        return accepted

    def _accepted(self, d: Draft) -> None:
        self._in_hand(d)

    def _taken(self, d: Draft) -> None:
        self._in_hand(d, take=True)

    def _in_progress(self, d: Draft) -> None:
        accepted = self._in_hand(d)
        self.start(d, self.between(accepted, self.now, 0.05, 0.5))

    def _returned(self, d: Draft) -> None:
        at = self.ago(self.period(d, False))
        dispatched = self.before(at, self.rng.uniform(2, 26))
        self.register(d, self.before(dispatched, self.rng.uniform(1, 20)))
        to = (None, self.departments[d.department_code].pk)
        self.dispatch(d, dispatched, to)
        by = self.actors.unit(*to)
        d.owner_node_id, d.owner_department_id = self.level_unit(d, d.level), None
        self.schedule(d, at, "dispatch")
        reason = self.rng.choice(RETURN_REASONS)
        self.event(d, at, by, "return", Status.RETURNED, note=reason, **{"from": self.label(*to)})

    def _reopened(self, d: Draft) -> None:
        at = self.ago(self.period(d, True))
        created = self.before(at, 24 * self.rng.uniform(4, 40))
        self._finish(d, created, self.between(created, at, 0.6, 0.95), "resolved")
        self.revisit(d, at, "unsatisfied")

    def _finish(self, d: Draft, created, end, upto: str) -> None:
        """register … resolve (… revisit … close) between ``created`` and ``end``."""
        self.register(d, created)
        dispatched = self.between(created, end, 0.02, 0.15)
        accepted = self.between(dispatched, end, 0.02, 0.2)
        self.dispatch(d, dispatched, self.dispatch_to(d))
        self.accept(d, accepted)
        started = self.between(accepted, end, 0.05, 0.3)
        self.start(d, started)
        resolved = self.between(started, end, 0.3, 0.9) if upto != "resolved" else end
        self.resolve(d, resolved)
        if upto in ("revisited", "closed"):
            revisited = self.between(resolved, end, 0.2, 0.7) if upto == "closed" else end
            self.revisit(d, revisited, "satisfied" if self.rng.random() < 0.8 else "basic")
        if upto == "closed":
            self.close(d, end)

    def finished(self, story: str) -> Draft:
        """A finished issue: solved on the spot (green), or resolved, revisited or closed."""
        rng = self.rng
        if story == "green":
            d = self.draft(Colour.GREEN)
            at = self.before(self.now, 24 * rng.uniform(0, 150))
            self.register(d, at)
            by = d.created_by_id
            d.responsible_id = by
            # solved on the spot (``registration._solve_on_the_spot``): the resolution is the
            # reply to every reporter
            d.resolution = self.rng.choice(RESOLUTIONS).format(
                unit=self.label(d.owner_node_id, None)
            )
            d.resolved_at = at
            for r in d.reporters:
                r[6], r[7], r[8] = d.resolution, at, by
            self.event(d, at, by, "resolve", Status.RESOLVED, note=d.resolution)
            d.revisits.append((by, at, "home", "satisfied", "", False))
            self.event(
                d, at, by, "revisit", Status.REVISITED, result="satisfied", mode="home",
                on_the_spot=True,
            )  # fmt: skip
            self.close(d, at)
            return d
        d = self.draft(self.colour())
        if story == "closed":
            end = self.before(self.now, 24 * rng.uniform(0.2, 150))
            created = self.before(end, 24 * rng.uniform(0.5, 20))
        else:
            end = self.before(self.now, 24 * rng.uniform(0.05, 4))
            created = self.before(end, 24 * rng.uniform(0.5, 12))
        self._finish(d, created, end, story)
        self.add_reporters(d)
        return d

    def merge(self, target: Draft) -> Draft:
        """A second report of ``target``'s problem, merged into it by the supervisor."""
        household = self.households.neighbour(
            self.rng, target.place.village_id, {r[0] for r in target.reporters}
        )
        place = self.households.place(household) if household else target.place
        code = next(c for c, v in self.categories.items() if v[0] == target.category_id)
        d = self.draft(target.colour, place, code)
        d.complexity = target.complexity
        created = self.between(target.created_at, self.now, 0.05, 0.6)
        self.register(d, created)
        at = self.between(created, self.now, 0.1, 0.9)
        by = self.supervisor(d)
        have = {r[0] for r in target.reporters if r[0] is not None}
        moved = [r for r in d.reporters if r[0] not in have]
        target.reporters += moved
        d.reporters = []
        d.merged_into = target
        self.event(d, at, by, "merge", Status.MERGED, into=target)
        status = [e[4] for e in target.events if e[0] <= at][-1]
        data = {"from": d, "reporters": len(moved)}
        target.events.append((at, by, "merged_in", status, status, d.description, data))
        target.events.sort(key=lambda e: e[0])
        return d
