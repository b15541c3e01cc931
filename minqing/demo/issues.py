"""Demo issues (民情问题): the county's departments, and a backlog in every state of the loop.

One open issue per ``HOUSEHOLDS_PER_OPEN_ISSUE`` households (100,000 at 谯城区 scale), plus about
half as many finished ones. Each issue is a short story told the way the services would have
written it: registered by the village cadre for a real household (a few found on patrol),
dispatched by the unit of its level, accepted, worked on, resolved with a reply to every
reporter, revisited and closed — or stopped anywhere on the way: returned, reopened after an
unsatisfied revisit, merged into an earlier report, escalated after a missed deadline (with its
通报 record), offered to and taken by co-building units, solved on the spot (green). Timeline
events, versions, replies and revisits match the status; deadlines and yellow-light times are
those ``minqing.issues.deadlines.schedule`` gives for the same instants, from one
``work_calendar()``; the open issues get the similar-issue index rows
``similarity.index_issues_bulk`` would write (written directly, see ``_index``).

About 0.5 % of the open issues are overdue and 2 % past their yellow light at build time, so the
boards show red and yellow lights (the demo's worker escalates the overdue ones when it starts).
Every acting unit gets a generated account (unusable password) so timelines name a person.
The stories are told in a thread while the household indexes are built (``IssueBuild``); rows go
through the builder's ``Loader``; no audit rows: generated data is nobody's action.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.utils import timezone

from minqing.demo.issue_cast import CO_BUILDING_UNITS, DEPARTMENTS, Draft
from minqing.demo.issue_stories import StoryTeller
from minqing.demo.loader import ISSUE_TABLES, Loader, max_id
from minqing.demo.people import HOUSEHOLD_PHONE, Sealer
from minqing.issues.models import (
    OPEN_STATES,
    Issue,
    IssueEvent,
    IssueReporter,
    IssueTerm,
    LateRecord,
    Revisit,
)
from minqing.issues.similarity import MAX_COUNT, terms
from minqing.lib.crypto import decrypt, keyring
from minqing.org.models import Department
from minqing.workdays.selectors import work_calendar

if TYPE_CHECKING:
    from minqing.demo.plan import CountyPlan

HOUSEHOLDS_PER_OPEN_ISSUE = 5.3
#: Share of the open issues in each open story.
OPEN_STORIES = {
    "registered": 0.12,
    "dispatched": 0.15,
    "escalated": 0.02,
    "offered": 0.01,
    "accepted": 0.22,
    "in_progress": 0.38,
    "taken": 0.01,
    "returned": 0.03,
    "reopened": 0.06,
}
#: Finished stories, per open issue.
FINISHED_STORIES = {
    "resolved": 0.06,
    "revisited": 0.04,
    "closed": 0.30,
    "green": 0.08,
    "merged": 0.02,
}
#: Lights of the open issues at build time (the rest green).
LIGHTS = {"red": 0.005, "yellow": 0.02}
# A concrete field always has a column (the stubs type ``Field.column`` as optional).
ISSUE_COLUMNS = tuple(f.column for f in Issue._meta.concrete_fields if f.column is not None)
EVENT_COLUMNS = ("issue_id", "at", "actor_id", "action", "from_status", "to_status", "note", "data")
REPORTER_COLUMNS = (
    "issue_id",
    "household_id",
    "name",
    "seal_id",
    "phone",
    "phone_hash",
    "words",
    "reported_at",
    "reply",
    "replied_at",
    "replied_by_id",
)
REPORTER_PHONE = "issues_issuereporter.phone"
REVISIT_COLUMNS = ("issue_id", "by_id", "at", "mode", "result", "words", "sampled")
LATE_COLUMNS = ("issue_id", "level", "unit_node_id", "unit_department_id", "due_at", "recorded_at")


def create_departments(county_id: int) -> dict[str, Department]:
    """The county's departments and co-building units, by code."""
    Department.objects.bulk_create(
        [Department(county_id=county_id, name=n, code=c) for n, c in DEPARTMENTS]
        + [
            Department(county_id=county_id, name=n, code=c, kind=Department.Kind.CO_BUILDING)
            for n, c in CO_BUILDING_UNITS
        ]
    )
    return {d.code: d for d in Department.objects.filter(county_id=county_id)}


@dataclass
class IssueReport:
    issues: int = 0
    open: int = 0
    reporters: int = 0
    events: int = 0
    revisits: int = 0
    late_records: int = 0
    terms: int = 0
    staff: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    lights: Counter[str] = field(default_factory=Counter)
    estimated_years: list[int] = field(default_factory=list)
    #: seconds of each step: prepare, stories (in a thread), waited (for the stories after the
    #: household indexes), rows, index (terms), indexes
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return (
            self.issues
            + self.reporters
            + self.events
            + self.revisits
            + self.late_records
            + self.terms
        )


# -- the build ---------------------------------------------------------------------------------


def _shares(shares: dict[str, float], total: int) -> dict[str, int]:
    """Counts in proportion, at least one of each story."""
    return {story: max(1, round(share * total)) for story, share in shares.items()}


def build_issues(
    plan: CountyPlan,
    departments: dict[str, Department],
    *,
    loader: Loader,
    seed: int,
    now: dt.datetime | None = None,
) -> IssueReport:
    """Generate and write the county's issues (inside the caller's transaction)."""
    return IssueBuild(plan, departments, seed=seed, now=now).write(loader)


class IssueBuild:
    """The county's issues in two halves, so the stories can be told while the database builds
    the household indexes.

    Creating it (in the build's transaction) reads what the stories need — categories, rules,
    the calendar — and creates the staff accounts, then tells the stories in a thread: pure
    Python, no queries, while the caller's connection is busy in C (SQLite and psycopg release
    the GIL while they work), which on two cores hides most of their cost. ``write`` waits for
    the stories and writes the rows.
    """

    def __init__(
        self,
        plan: CountyPlan,
        departments: dict[str, Department],
        *,
        seed: int,
        now: dt.datetime | None = None,
    ) -> None:
        tick = time.perf_counter()
        self.teller = StoryTeller(plan, seed, now or timezone.now(), departments)
        self.n_open = max(1, round(plan.size.households / HOUSEHOLDS_PER_OPEN_ISSUE))
        self.prepare_s = time.perf_counter() - tick
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-issues")
        self._told = self._pool.submit(self._tell)

    def _tell(self) -> tuple[list[Draft], list[Draft], float]:
        """(all drafts, the open ones, seconds): every story, then each last stage's light."""
        tick = time.perf_counter()
        teller, rng = self.teller, self.teller.rng
        stories = _shares(OPEN_STORIES, self.n_open)
        n_open = sum(stories.values())
        red, yellow = (max(2, round(share * n_open)) for share in LIGHTS.values())
        targets = ["red"] * red + ["yellow"] * yellow
        targets += ["green"] * (n_open - len(targets))
        rng.shuffle(targets)
        drafts = [
            teller.tell(story, targets.pop()) for story, n in stories.items() for _ in range(n)
        ]
        open_drafts = list(drafts)
        for story, n in _shares(FINISHED_STORIES, n_open).items():
            for _ in range(n):
                if story == "merged":
                    drafts.append(teller.merge(rng.choice(open_drafts)))
                else:
                    drafts.append(teller.finished(story))
        for d in drafts:
            teller.light(d)  # sets the yellow-light time of the last stage
        return drafts, open_drafts, time.perf_counter() - tick

    def write(self, loader: Loader) -> IssueReport:
        """Wait for the stories, then write issues, timelines, reporters, revisits, late
        records and the similar-issue index, and build their indexes."""
        tick = time.perf_counter()
        try:
            drafts, open_drafts, told_s = self._told.result()
        finally:
            self._pool.shutdown()
        report = IssueReport(issues=len(drafts))
        phases = report.phases
        phases["prepare"], phases["stories"] = self.prepare_s, told_s
        mark = time.perf_counter()
        phases["waited"] = mark - tick

        def lap(name: str) -> None:
            nonlocal mark
            phases[name], mark = time.perf_counter() - mark, time.perf_counter()

        drafts.sort(key=lambda d: d.created_at)
        base = max_id(Issue._meta.db_table)
        for i, d in enumerate(drafts, start=1):
            d.id = base + i
        _name_reporters(drafts)
        _write(drafts, loader, report)
        lap("rows")
        report.terms = _index(drafts, loader)
        lap("index")
        loader.finish(ISSUE_TABLES)  # their indexes were dropped by ``loader.start``
        loader.reset_sequences([Issue, IssueEvent, IssueReporter, Revisit, LateRecord, IssueTerm])
        lap("indexes")
        teller = self.teller
        report.staff = teller.actors.created
        report.open = sum(d.status in OPEN_STATES for d in drafts)
        report.lights = Counter(teller.light(d) for d in open_drafts)
        report.estimated_years = sorted(teller.clock.estimated)
        report.seconds = self.prepare_s + time.perf_counter() - tick
        return report


def _index(drafts: list[Draft], loader: Loader) -> int:
    """The similar-issue index of the open issues: exactly the rows ``index_issues_bulk`` writes
    (``similarity._rows``: the terms of ``issue_text``), written with the loader. That service
    builds an ``IssueTerm`` model per row, which at ~40 terms per issue of 100,000 open issues
    costs minutes; a test checks both give the same index. (Working the terms out in a thread
    beside the inserts gains nothing: both need the GIL.)"""
    columns = ("issue_id", "town_id_value", "village_id_value", "term", "count")
    rows: list[tuple[int, int, int, str, int]] = []
    written = 0
    for d in drafts:
        if d.status in OPEN_STATES:
            town, village = d.place.town_id, d.place.village_id
            text = f"{d.title}\n{d.description}"  # similarity.issue_text
            rows += [(d.id, town, village, t, min(n, MAX_COUNT)) for t, n in terms(text).items()]
            if len(rows) >= 100_000:
                loader.insert(IssueTerm._meta.db_table, columns, rows)
                written, rows = written + len(rows), []
    loader.insert(IssueTerm._meta.db_table, columns, rows)
    return written + len(rows)


def _name_reporters(drafts: list[Draft]) -> None:
    """Fill in each reporter's name and phone from the household, as registration does."""
    wanted = sorted({r[0] for d in drafts for r in d.reporters})
    found: dict[int, tuple[str, Any, str]] = {}
    table = connection.ops.quote_name("households_household")
    with connection.cursor() as cur:
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start : start + 5000]
            keep = set(chunk)
            cur.execute(
                f"SELECT id, head_name, phone, phone_hash FROM {table} "  # noqa: S608
                "WHERE id >= %s AND id <= %s",
                [chunk[0], chunk[-1]],
            )
            for pk, name, phone, phone_hash in cur.fetchall():
                if pk in keep:  # the phone is sealed again for the reporter's own row
                    text = decrypt(phone, context=HOUSEHOLD_PHONE) if phone is not None else None
                    found[pk] = (name, text, phone_hash)
    for d in drafts:
        for r in d.reporters:
            r[1], r[2], r[3] = found[r[0]]


class _SqliteStamps:
    """``adapt_datetimefield_value`` of the SQLite backend (naive text in the connection's time
    zone), remembered: the same instants recur in the issues and their events."""

    def __init__(self) -> None:
        self.tz = connection.timezone
        self.seen: dict[dt.datetime, str] = {}

    def __call__(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        text = self.seen.get(value)
        if text is None:
            text = self.seen[value] = str(value.astimezone(self.tz).replace(tzinfo=None))
        return text


def _write(drafts: list[Draft], loader: Loader, report: IssueReport) -> None:
    sqlite = connection.vendor == "sqlite"
    sealer = Sealer(keyring(), seal_as_text=sqlite)
    stamp: Callable[[Any], Any] = _SqliteStamps() if sqlite else (lambda v: v)

    def value(key: str, v: Any) -> Any:
        if isinstance(v, Draft):
            return v.id
        if key == "replies":  # (reporter row, the reply given then)
            return [[row[1], reply] for row, reply in v]
        return v[1] if isinstance(v, list) else v  # a reporter row: its name

    def data(values: dict[str, Any]) -> Any:
        plain = {k: value(k, v) for k, v in values.items()}
        return json.dumps(plain) if sqlite else plain

    cal, tz = work_calendar(), timezone.get_default_timezone()

    def estimated(*instants: Any) -> bool:
        """A deadline in a year nobody has entered: the clock estimated it (``issue_cast``)."""
        return any(t is not None and cal.year_estimated(t.astimezone(tz).year) for t in instants)

    issues, events, reporters, revisits, late = [], [], [], [], []
    for d in drafts:
        report.statuses[d.status] += 1
        p = d.place
        row = {
            "id": d.id,
            "source": d.source,
            "node_id": p.node_id,
            "village_id": p.village_id,
            "town_id": p.town_id,
            "node_path": p.path,
            "household_id": p.household_id,
            "category_id": d.category_id,
            "title": d.title,
            "description": d.description,
            "colour": d.colour,
            "complexity": d.complexity,
            "status": d.status,
            "level": d.level,
            "owner_node_id": d.owner_node_id,
            "owner_department_id": d.owner_department_id,
            "responsible_id": d.responsible_id,
            "offered": d.offered,
            "stage_started_at": stamp(d.stage_started_at),
            "warn_at": stamp(d.warn_at),
            "due_at": stamp(d.due_at),
            "final_due_at": stamp(d.final_due_at),
            "warned": False,
            "deadline_estimated": estimated(d.due_at, d.final_due_at),
            "escalations": d.escalations,
            "merged_into_id": d.merged_into.id if d.merged_into else None,
            "topic_id": None,
            "resolution": d.resolution,
            "created_by_id": d.created_by_id,
            "created_at": stamp(d.created_at),
            "updated_at": stamp(d.events[-1][0]),
            "resolved_at": stamp(d.resolved_at),
            "closed_at": stamp(d.closed_at),
            "version": len(d.events),
        }
        issues.append(tuple(row[c] for c in ISSUE_COLUMNS))
        for at, actor, action, before, after, note, values in d.events:
            events.append((d.id, stamp(at), actor, action, before, after, note, data(values)))
        for household, name, phone, phone_hash, words, at, reply, replied, by in d.reporters:
            reported, replied = stamp(at), stamp(replied)
            seal, seal_column = sealer.seal_id()
            sealed = sealer.encrypt(phone, REPORTER_PHONE, seal) if phone else None
            reporters.append(
                (
                    d.id,
                    household,
                    name,
                    seal_column,
                    sealed,
                    phone_hash,
                    words,
                    reported,
                    reply,
                    replied,
                    by,
                )
            )
        for by, at, mode, result, words, sampled in d.revisits:
            revisits.append((d.id, by, stamp(at), mode, result, words, sampled))
        for level, node, department, due, at in d.late:
            late.append((d.id, level, node, department, stamp(due), stamp(at)))
    loader.insert(Issue._meta.db_table, ISSUE_COLUMNS, issues)
    loader.insert(IssueEvent._meta.db_table, EVENT_COLUMNS, events)
    loader.insert(IssueReporter._meta.db_table, REPORTER_COLUMNS, reporters)
    loader.insert(Revisit._meta.db_table, REVISIT_COLUMNS, revisits)
    loader.insert(LateRecord._meta.db_table, LATE_COLUMNS, late)
    report.events, report.reporters = len(events), len(reporters)
    report.revisits, report.late_records = len(revisits), len(late)
