"""The demo county's quarterly menu and its campaign, run through the services end to end.

1. Fourteen departments (``menu_content``) each import their checklist as an XLSForm file
   (written with ``xlsform.write_xlsform``, read back through ``pyxform`` like an upload) and
   submit it; the command centre (the ``county`` login) creates the quarter's menu, merges the
   checklists (questions two departments ask are merged as the similarity engine proposes, each
   keeping both departments), orders the eight themes, sets the rules that raise issues, approves
   and publishes version 1.
2. Every group leader gets an account (a county gives each of them the app), then a campaign
   over the whole county opens: a two-week window around today (six days back, seven ahead).
3. The households are answered through ``answers.answers_record`` in each visitor's batches of
   200, as phones sync: visited at home, reached by phone after a failed call or two
   (``call_record``), or not reached with a reason. Halfway, version 2 (one question changed:
   income in four steps) is published and the rest answer it. One visitor gives the same answers
   everywhere and a few records are made in too little time, for the quality page. A big
   county on PostgreSQL is answered by two processes at once, each with its own villages'
   visitors, as two app workers serve phones side by side (``sync_processes``).
4. The ``leader`` login keeps ``HELD_BACK`` of its households open, for a person to visit with
   the phone in the demo (then progress reaches 100 %).

The same code is the benchmark's campaign (``bench_menus``): at 谯城区 scale 530,000 households,
≈6,000 visitors, ≈8,800 issues.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import multiprocessing
import os
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone

from minqing.accounts.models import Role, RoleAssignment, User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.models import Liaison, LiaisonKind
from minqing.demo import menu_content as content
from minqing.issues.models import Category
from minqing.menus import logic
from minqing.menus.models import (
    CallResult,
    Campaign,
    Checklist,
    MenuVersion,
    NotReachedReason,
    Outcome,
    RaisedIssue,
    Task,
)
from minqing.menus.services import authoring, campaigns
from minqing.menus.services.answers import (
    MAX_BATCH,
    AnswerInput,
    CallInput,
    Status,
    answers_record,
    call_record,
)
from minqing.menus.spec import CHOICE_TYPES, FormSpec, QType, QuestionSpec
from minqing.menus.xlsform import write_xlsform
from minqing.org.models import Department, Node

#: Households of the ``leader`` login left for a person to visit in the demo.
HELD_BACK = 3
#: Shares of the outcomes (the rest is "visited at home").
PHONE_SHARE, NOT_REACHED_SHARE = 0.09, 0.025
#: Of the households reached by phone, those where a first call failed.
FAILED_FIRST_CALL = 0.3
TOO_FAST_SHARE = 0.004


@dataclass
class CampaignReport:
    questions: int = 0
    checklists: int = 0
    merged: int = 0
    visitors_made: int = 0
    tasks: int = 0
    answered: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    issues: int = 0
    joined: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # status → count (must stay empty)
    visitors: int = 0
    visitor_ids: set[int] = field(default_factory=set)
    paper: int = 0  # households with nobody: typed in by the village from paper
    batches: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    campaign_id: int | None = None
    menu_id: int | None = None
    processes: int = 1  # phones syncing at once


# --------------------------------------------------------------------------- the menu


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def _department_clerk(department: Department, fallback: User) -> User:
    """Who uploads a department's checklist: the ``water`` login for 区水利局, else the
    department's generated member of staff, else the command centre."""
    staff = (
        User.objects.filter(roles__department=department, roles__role=Role.DEPARTMENT)
        .order_by("username")
        .first()
    )
    return staff or fallback


def _quarter(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def build_menu(county: Node, organiser: User, report: CampaignReport) -> MenuVersion:
    """Checklists by XLSForm → merged, ordered, ruled, approved, published version 1."""
    year, quarter = _quarter(timezone.localdate())
    departments = {d.code: d for d in Department.objects.filter(county=county)}
    checklists: list[Checklist] = []
    for code in content.department_codes():
        department = departments[code]
        specs = [q.spec for q in content.QUESTIONS if q.department == code]
        form = FormSpec(f"{department.name}·{year}年第{quarter}季度走访清单", specs)
        buffer = io.BytesIO()
        write_xlsform(form, buffer)
        imported = authoring.checklist_import(
            by=_department_clerk(department, organiser),
            department=department,
            source=buffer.getvalue(),
            filename=f"{code}-{year}q{quarter}.xlsx",
        )
        authoring.checklist_submit(
            by=_department_clerk(department, organiser), checklist=imported.checklist
        )
        checklists.append(imported.checklist)
    menu = authoring.menu_create(
        by=organiser,
        county=county,
        year=year,
        quarter=quarter,
        title=f"{year}年第{quarter}季度“四季菜单·暖心走访”",
        greeting=content.GREETING,
    )
    version = menu.versions.get()
    proposals = authoring.duplicate_proposals(
        Checklist.objects.filter(pk__in=[c.pk for c in checklists])
    )
    groups = [list(p.question_ids) for p in proposals]
    authoring.menu_merge(by=organiser, version=version, checklists=checklists, groups=groups)
    version.refresh_from_db()
    authoring.version_settings_save(
        by=organiser, version=version, greeting=version.greeting, themes=list(content.THEMES)
    )
    _set_rules(organiser, version, departments)
    authoring.version_approve(by=organiser, version=version)
    authoring.version_publish(by=organiser, version=version)
    version.refresh_from_db()
    report.checklists = len(checklists)
    report.merged = len(groups)
    report.questions = version.questions.count()
    report.menu_id = menu.pk
    return version


def _set_rules(organiser: User, version: MenuVersion, departments: dict[str, Department]) -> None:
    categories = {c.code: c for c in Category.objects.all()}
    for q in content.QUESTIONS:
        if q.rule is None:
            continue
        question = version.questions.filter(name=q.spec.name).first()
        if question is None:  # merged into another department's question
            continue
        authoring.version_question_save(
            by=organiser,
            version=version,
            question=question,
            spec=question.to_spec(),
            departments=list(question.departments.all()),
            rule=authoring.IssueRule(
                on=list(q.rule.on),
                category=categories[q.rule.category],
                department=departments[q.rule.department] if q.rule.department else None,
                colour=q.rule.colour,
                shared=q.rule.shared,
            ),
        )


def next_version(organiser: User, version: MenuVersion) -> MenuVersion:
    """Version 2: the agriculture bureau's income question in four steps; published."""
    nxt = authoring.version_next(
        by=organiser,
        version=version,
        change_note="家庭收入分为四档（增加较多、略有增加、持平、减少）",
    )
    question = nxt.questions.get(name="income")
    spec = question.to_spec()
    spec.choices = list(content.INCOME_V2)
    authoring.version_question_save(
        by=organiser,
        version=nxt,
        question=question,
        spec=spec,
        departments=list(question.departments.all()),
    )
    authoring.version_approve(by=organiser, version=nxt)
    authoring.version_publish(by=organiser, version=nxt)
    nxt.refresh_from_db()
    return nxt


# --------------------------------------------------------------------------- visitors


def give_group_leaders_accounts(county: Node) -> int:
    """An account (no usable password) and the group-leader role at their grid for every group
    leader of the county who has none — written in bulk, as an import of the list would."""
    liaisons = list(
        Liaison.objects.filter(
            village__path__startswith=county.path,
            kind=LiaisonKind.GROUP_LEADER,
            user__isnull=True,
            active=True,
        ).only("id", "name", "node_id")
    )
    if not liaisons:
        return 0
    unusable = make_password(None)
    taken = set(User.objects.filter(username__startswith="gl").values_list("username", flat=True))
    users = []
    for liaison in liaisons:
        name = f"gl{liaison.pk}"
        if name in taken:
            continue
        users.append(User(username=name, full_name=liaison.name[:50], password=unusable))
    with transaction.atomic():
        User.objects.bulk_create(users, batch_size=2000)
        by_name = dict(
            User.objects.filter(username__in=[u.username for u in users]).values_list(
                "username", "pk"
            )
        )
        roles = []
        for liaison in liaisons:
            user_id = by_name.get(f"gl{liaison.pk}")
            if user_id is None:
                continue
            liaison.user_id = user_id
            roles.append(
                RoleAssignment(user_id=user_id, role=Role.GROUP_LEADER, node_id=liaison.node_id)
            )
        RoleAssignment.objects.bulk_create(roles, batch_size=2000)
        Liaison.objects.bulk_update(liaisons, ["user"], batch_size=2000)
        audit_record(
            action=AuditAction.DEMO_MENUS,
            object_type="org.node",
            object_id=str(county.pk),
            username="minqing demo",
            detail={"group_leader_accounts": len(roles)},
        )
    return len(roles)


# --------------------------------------------------------------------------- answers


class _Answerer:
    """Made-up answers that fit a version's form for one kind of place (skip logic followed)."""

    def __init__(self, form: FormSpec, weights: dict[str, dict[str, float]]) -> None:
        # Each question's choices and cumulative weights once, not once a household (the same
        # draws as ``rng.choices(names, weights)``, which accumulates them on every call).
        self.questions: list[
            tuple[QuestionSpec, Any, dict[str, float], list[str], list[float]]
        ] = []
        for q in form.questions:
            if q.type == QType.NOTE:
                continue
            w = weights.get(q.name, {})
            names = q.choice_names()
            self.questions.append(
                (
                    q,
                    logic.parse(q.relevant) if q.relevant else None,
                    w,
                    names,
                    list(itertools.accumulate(w.get(n, 1.0) for n in names)),
                )
            )

    def answers(self, rng: random.Random) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for q, relevant, w, names, cum in self.questions:
            if relevant is not None and not logic.evaluate(relevant, out):
                continue
            value = self._one(q, w, names, cum, rng)
            if value is not None:
                out[q.name] = value
        return out

    @staticmethod
    def _one(
        q: QuestionSpec, w: dict[str, float], names: list[str], cum: list[float], rng: random.Random
    ) -> Any:
        if q.type == QType.SELECT_MULTIPLE:
            chosen = [n for n in names if rng.random() < w.get(n, 0.2)]
            if not chosen and q.required:
                chosen = [names[0]]
            return chosen or None
        if q.type in CHOICE_TYPES:
            return rng.choices(names, cum_weights=cum)[0]
        if q.type == QType.INTEGER:
            return rng.randint(int(w.get("lo", 0)), int(w.get("hi", 5)))
        if q.type == QType.TEXT:
            return rng.choice(content.SUGGESTIONS) if rng.random() < 0.04 else None
        return None


def _weights(version_number: int) -> dict[str, dict[str, float]]:
    weights = {q.spec.name: q.weights for q in content.QUESTIONS}
    if version_number >= 2:
        weights["income"] = content.INCOME_V2_WEIGHTS
    return weights


@dataclass
class _Window:
    start: dt.datetime
    end: dt.datetime

    def moment(self, rng: random.Random) -> dt.datetime:
        """A time of day a visitor calls at (8:00–20:00 local), inside [start, end]."""
        span = (self.end - self.start).total_seconds()
        for _try in range(20):
            at = self.start + dt.timedelta(seconds=rng.random() * span)
            if 8 <= timezone.localtime(at).hour < 20:
                return at
        return self.start + dt.timedelta(seconds=rng.random() * span)


def answer_tasks(
    campaign: Campaign,
    version: MenuVersion,
    tasks: list[Task],
    window: _Window,
    rng: random.Random,
    report: CampaignReport,
    *,
    copier_id: int | None = None,
    say: Callable[[str], None] | None = None,
    processes: int = 1,
) -> None:
    """Answer ``tasks`` under ``version``: each visitor's households in batches of 200, as a
    phone syncs, after the failed first calls of those reached by phone.

    ``processes`` > 1: that many phones sync at once, each process answering the visitors of
    its own villages (as app workers serve phones side by side); needs ``fork`` and a
    database that takes concurrent writers, outside any transaction of the caller's."""
    by_visitor: dict[int, list[Task]] = defaultdict(list)
    # A household with nobody responsible is listed for the village: a cadre visits it with the
    # paper form and types it in (paper entry).
    clerks = _village_clerks()
    paper: set[int] = set()
    for t in tasks:
        if t.assignee_id is not None:
            by_visitor[t.assignee_id].append(t)
        elif (clerk := clerks.get(t.village_id)) is not None:
            by_visitor[clerk].append(t)
            paper.add(t.pk)
    job = _Job(version, dict(by_visitor), paper, window, copier_id, len(tasks))
    if processes > 1 and len(by_visitor) > 1:
        shares = _shares(by_visitor, processes)
        seeds = [rng.getrandbits(64) for _ in shares]
        if say:
            say(f"    {len(tasks):,} households, {len(shares)} processes syncing at once…")
        global _forked
        _forked = (job, shares, seeds)
        connections.close_all()  # each process opens its own
        try:
            with multiprocessing.get_context("fork").Pool(len(shares)) as pool:
                parts = pool.map(_answer_share, range(len(shares)))
        finally:
            _forked = None
        for part in parts:
            report.answered += part.answered
            report.calls += part.calls
            report.batches += part.batches
            for k, v in part.refused.items():
                report.refused[k] = report.refused.get(k, 0) + v
    else:
        _answer_visitors(job, sorted(by_visitor), rng, report, say)
    report.visitor_ids |= set(by_visitor)
    report.visitors = len(report.visitor_ids)
    report.paper += len(paper)


@dataclass
class _Job:
    version: MenuVersion
    by_visitor: dict[int, list[Task]]
    paper: set[int]
    window: _Window
    copier_id: int | None
    total: int


#: What forked processes answer: (job, visitor ids of each share, each share's seed).
_forked: tuple[_Job, list[list[int]], list[int]] | None = None


def _shares(by_visitor: dict[int, list[Task]], n: int) -> list[list[int]]:
    """The visitors in ``n`` shares of about as many households, a village's visitors in one
    share (two processes rarely touch one village's counters)."""
    villages: dict[int, list[int]] = defaultdict(list)
    for visitor_id in sorted(by_visitor):
        villages[by_visitor[visitor_id][0].village_id].append(visitor_id)
    shares: list[list[int]] = [[] for _ in range(n)]
    sizes = [0] * n
    for _village, visitors in sorted(
        villages.items(), key=lambda kv: (-sum(len(by_visitor[v]) for v in kv[1]), kv[0])
    ):
        smallest = sizes.index(min(sizes))
        shares[smallest] += visitors
        sizes[smallest] += sum(len(by_visitor[v]) for v in visitors)
    return [sorted(share) for share in shares if share]


def _answer_share(index: int) -> CampaignReport:
    """In a forked process: answer one share's visitors; returns what it counted."""
    assert _forked is not None
    job, shares, seeds = _forked
    part = CampaignReport()
    try:
        _answer_visitors(job, shares[index], random.Random(seeds[index]), part, None)
    finally:
        connections.close_all()
    part.visitor_ids = set()
    return part


def _answer_visitors(
    job: _Job,
    visitor_ids: list[int],
    rng: random.Random,
    report: CampaignReport,
    say: Callable[[str], None] | None,
) -> None:
    version, window, paper, copier_id = job.version, job.window, job.paper, job.copier_id
    forms = {
        kind: _Answerer(authoring.version_form(version, kind), _weights(version.number))
        for kind in ("urban", "rural")
    }
    users = User.objects.in_bulk(visitor_ids)
    copied: dict[str, dict[str, Any]] = {}
    done = 0
    last_said = time.perf_counter()
    for visitor_id in visitor_ids:
        visitor = users[visitor_id]
        records: list[AnswerInput] = []
        for t in job.by_visitor[visitor_id]:
            finished = window.moment(rng)
            roll = rng.random()
            if roll < NOT_REACHED_SHARE:
                reason = rng.choices(NotReachedReason.values, [0.5, 0.35, 0.15])[0]
                records.append(
                    AnswerInput(
                        client_uuid=uuid.UUID(int=rng.getrandbits(128)),
                        task_id=t.pk,
                        version_id=version.pk,
                        outcome=Outcome.NOT_REACHED,
                        reason=reason,
                        finished_at=finished,
                        paper=t.pk in paper,
                    )
                )
                continue
            outcome = Outcome.PHONE if roll < NOT_REACHED_SHARE + PHONE_SHARE else Outcome.HOME
            if outcome == Outcome.PHONE and t.pk not in paper and rng.random() < FAILED_FIRST_CALL:
                result = call_record(
                    by=visitor,
                    data=CallInput(
                        client_uuid=uuid.UUID(int=rng.getrandbits(128)),
                        task_id=t.pk,
                        at=finished - dt.timedelta(hours=rng.randint(2, 30)),
                        result=rng.choice([CallResult.NO_ANSWER, CallResult.BUSY]),
                    ),
                )
                if result.status == Status.SAVED:
                    report.calls += 1
                else:
                    report.refused[f"call {result.status}"] = (
                        report.refused.get(f"call {result.status}", 0) + 1
                    )
            if visitor_id == copier_id:
                answers = copied.setdefault(t.place_kind, forms[t.place_kind].answers(rng))
                answers = dict(answers)
            else:
                answers = forms[t.place_kind].answers(rng)
            minutes = rng.uniform(4, 15)
            if rng.random() < TOO_FAST_SHARE:
                minutes = rng.uniform(0.3, 1.2)
            records.append(
                AnswerInput(
                    client_uuid=uuid.UUID(int=rng.getrandbits(128)),
                    task_id=t.pk,
                    version_id=version.pk,
                    outcome=outcome,
                    answers=answers,
                    started_at=finished - dt.timedelta(minutes=minutes),
                    finished_at=finished,
                    paper=t.pk in paper,
                )
            )
        for i in range(0, len(records), MAX_BATCH):
            batch = records[i : i + MAX_BATCH]
            for r in answers_record(by=visitor, records=batch):
                if r.status != Status.SAVED:
                    report.refused[r.status] = report.refused.get(r.status, 0) + 1
                    continue
                report.answered += 1
            report.batches += 1
            done += len(batch)
        if say and time.perf_counter() - last_said > 10:
            say(f"    {done:,} of {job.total:,} households answered")
            last_said = time.perf_counter()


def _village_clerks() -> dict[int, int]:
    """A village cadre of each village (the demo's ``village`` login, else its staff)."""
    out: dict[int, int] = {}
    rows = RoleAssignment.objects.filter(role=Role.VILLAGE_CADRE, node__isnull=False).order_by(
        "user__username"
    )
    for node_id, user_id, username in rows.values_list("node_id", "user_id", "user__username"):
        if username == "village" or node_id not in out:
            out[node_id] = user_id
    return out


def run_campaign(
    county: Node,
    *,
    seed: int = 1,
    hold_back: int = HELD_BACK,
    say: Callable[[str], None] | None = None,
    midway: Callable[[Campaign], None] | None = None,
    processes: int | None = None,
) -> CampaignReport:
    """The whole quarter: menu, accounts, campaign, answers (v1 then v2), counted.
    ``midway`` is called with half the households answered (not counted in the seconds);
    ``processes``: phones syncing at once (None: ``sync_processes``)."""
    report = CampaignReport()
    clock = time.perf_counter()
    organiser = _user("county")
    if organiser is None:
        raise RuntimeError("the demo's county login is missing")
    version = build_menu(county, organiser, report)
    report.seconds["menu"] = time.perf_counter() - clock
    report.visitors_made = give_group_leaders_accounts(county)
    today = timezone.localdate()
    starts_on, ends_on = today - dt.timedelta(days=6), today + dt.timedelta(days=7)
    tick = time.perf_counter()
    campaign = campaigns.campaign_start(
        by=organiser,
        version=version,
        scope=county,
        starts_on=starts_on,
        ends_on=ends_on,
        title=f"{version.menu.title} · {county.name}",
    )
    report.campaign_id = campaign.pk
    report.seconds["start"] = time.perf_counter() - tick
    tasks = list(
        Task.objects.filter(campaign=campaign)
        .only("id", "assignee_id", "place_kind", "household_id")
        .order_by("id")
    )
    report.tasks = len(tasks)
    leader = _user("leader")
    held = set()
    if leader is not None and hold_back:
        held = {t.pk for t in tasks if t.assignee_id == leader.pk}
        held = set(sorted(held)[:hold_back])
    todo = [t for t in tasks if t.pk not in held]
    rng = random.Random(seed)
    rng.shuffle(todo)
    half = len(todo) // 2
    now = timezone.now()
    start = timezone.make_aware(dt.datetime.combine(starts_on, dt.time(8)))
    middle = start + (now - start) / 2
    copier = _copier(todo, leader)
    if processes is None:
        processes = sync_processes(len(todo))
    report.processes = processes
    tick = time.perf_counter()
    answer_tasks(
        campaign, version, todo[:half], _Window(start, middle), rng, report,
        copier_id=copier, say=say, processes=processes,
    )  # fmt: skip
    report.seconds["answers_v1"] = time.perf_counter() - tick
    if midway is not None:
        tock = time.perf_counter()
        midway(campaign)
        clock += time.perf_counter() - tock
    tick = time.perf_counter()
    v2 = next_version(organiser, version)
    report.seconds["version_2"] = time.perf_counter() - tick
    tick = time.perf_counter()
    answer_tasks(
        campaign, v2, todo[half:], _Window(middle, now - dt.timedelta(minutes=20)), rng,
        report, copier_id=copier, say=say, processes=processes,
    )  # fmt: skip
    report.seconds["answers_v2"] = time.perf_counter() - tick
    outcomes = (
        Task.objects.filter(campaign=campaign)
        .exclude(outcome="")
        .values_list("outcome")
        .annotate(n=Count("id"))
    )
    report.by_outcome = dict(outcomes.values_list("outcome", "n"))
    raised = RaisedIssue.objects.filter(campaign=campaign)
    report.issues = raised.filter(joined=False).count()
    report.joined = raised.filter(joined=True).count()
    report.seconds["total"] = time.perf_counter() - clock
    return report


#: A campaign this big is answered by phones syncing side by side (below: one at a time).
PARALLEL_FROM = 50_000


def sync_processes(households: int) -> int:
    """How many phones sync at once in the simulation: two on PostgreSQL with two cores or
    more (a county's server serves phones side by side: two app workers), outside a
    transaction and for a big county only; one on SQLite, whose one writer would only queue
    them."""
    if (
        connection.vendor != "postgresql"
        or connection.in_atomic_block
        or households < PARALLEL_FROM
        or (os.cpu_count() or 1) < 2
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return 1
    return 2


def _copier(tasks: list[Task], leader: User | None) -> int | None:
    """A visitor (not the demo login) with enough households to show the same-answers signal."""
    counts: dict[int, int] = defaultdict(int)
    for t in tasks:
        if t.assignee_id is not None and (leader is None or t.assignee_id != leader.pk):
            counts[t.assignee_id] += 1
    fitting = sorted(v for v, n in counts.items() if n >= 30)
    return fitting[len(fitting) // 2] if fitting else None


def describe(report: CampaignReport) -> str:
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_outcome.items()))
    return (
        f"menu of {report.questions} questions from {report.checklists} checklists "
        f"({report.merged} merged); {report.tasks:,} households, {report.answered:,} answered "
        f"by {report.visitors:,} visitors ({outcomes}; {report.paper:,} with nobody responsible "
        f"typed in from paper by the village); {report.calls:,} failed calls; "
        f"{report.issues:,} issues raised ({report.joined:,} more households joined one); "
        f"{report.seconds.get('total', 0):.1f} s"
    )
