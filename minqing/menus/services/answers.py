"""The campaign's answers: a visitor's records from the phone (offline, synced in batches),
a paper form typed in, and each phone try.

A record is written once per ``client_uuid`` (made by the phone when the form opens): a replay
of the same content answers "already saved" and changes nothing; the same id with other content
is a conflict, never an overwrite — exactly as visits are (minqing.visits.services.visit). Each
record of a batch stands alone: a refused one is answered with its reasons and changes nothing,
the others are saved. Everything a saved record changes is written in one transaction with it:
the task, the progress counters of its grid, village, town and county (``Progress``), the
departments' tallies (``Tally``), and the issues its answers raise or join.

Answers are checked against the version they were made with (a version replaced since is
still accepted: a phone offline for a week keeps the form it had) and the household's place
(urban or rural).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import Counter, defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_batch, audit_record
from minqing.households.models import Household
from minqing.issues.models import OPEN_STATES, Source
from minqing.lib.bulk import insert_rows
from minqing.lib.context import AuditContext
from minqing.lib.memo import memoized
from minqing.menus.checks import CompiledForm, compile_form
from minqing.menus.errors import MenuErrorCode
from minqing.menus.models import (
    CallAttempt,
    CallResult,
    Campaign,
    MenuQuestion,
    MenuVersion,
    NotReachedReason,
    Outcome,
    Progress,
    RaisedIssue,
    Response,
    Tally,
    Task,
    VersionState,
)
from minqing.menus.permissions import MenuAction, allowed
from minqing.menus.spec import CHOICE_TYPES, NUMBER_TYPES, QType
from minqing.notifications.services import delivery_batch

#: A phone's clock may run a little fast.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: Records in one sync (the phone sends its outbox in batches of this size at most).
MAX_BATCH = 200


@dataclass
class AnswerInput:
    client_uuid: uuid.UUID
    task_id: int
    version_id: int
    outcome: str  # Outcome: home, phone, not_reached
    finished_at: dt.datetime
    answers: dict[str, Any] = field(default_factory=dict)
    started_at: dt.datetime | None = None
    reason: str = ""  # NotReachedReason, for not_reached
    paper: bool = False  # typed in from a paper form
    #: a paper form's visitor, when not the task's (a cadre went instead); None: the task's
    visitor_id: int | None = None

    def digest(self) -> str:
        data = {
            "task": self.task_id,
            "version": self.version_id,
            "outcome": self.outcome,
            "finished": self.finished_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "started": (
                self.started_at.astimezone(dt.UTC).isoformat(timespec="seconds")
                if self.started_at
                else ""
            ),
            "answers": self.answers,
            "reason": self.reason,
            "paper": self.paper,
        }
        if self.visitor_id is not None:  # only then: the digests of other records stay as they were
            data["visitor"] = self.visitor_id
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


class Status:
    SAVED = "saved"
    REPLAY = "replay"  # already saved: nothing changed
    REFUSED = "refused"  # bad input: nothing saved, ``errors`` says why
    CONFLICT = "conflict"  # the id is taken by another record, or the task is done already
    NOT_FOUND = "not_found"  # no such task for this person


@dataclass
class RecordResult:
    client_uuid: uuid.UUID
    status: str
    code: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    response_id: int | None = None
    issue_ids: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------- compiled forms

_compiled: dict[tuple[int, str], CompiledForm] = {}
_questions: dict[int, list[MenuQuestion]] = {}
_ruled: dict[int, list[MenuQuestion]] = {}
_tallied: dict[int, dict[str, tuple[int, str]]] = {}


def forget_compiled() -> None:
    """Drop the per-process caches (a test database reuses ids after a rollback)."""
    _compiled.clear()
    _questions.clear()
    _ruled.clear()
    _tallied.clear()


def compiled_form(version: MenuVersion, kind: str) -> CompiledForm:
    """The checker of a published version for one kind of place, built once per process (a
    published version never changes)."""
    from minqing.menus.services.authoring import version_form

    key = (version.pk, kind)
    found = _compiled.get(key)
    if found is None:
        found = compile_form(version_form(version, kind))
        if version.state == VersionState.PUBLISHED:
            _compiled[key] = found
    return found


def _rule_questions(version: MenuVersion) -> list[MenuQuestion]:
    """The questions of a version with a rule that raises an issue."""
    found = _ruled.get(version.pk)
    if found is None:
        found = [
            q for q in version_questions(version) if q.issue_on and q.issue_category is not None
        ]
        if version.state == VersionState.PUBLISHED:
            _ruled[version.pk] = found
    return found


def version_questions(version: MenuVersion) -> list[MenuQuestion]:
    found = _questions.get(version.pk)
    if found is None:
        found = list(version.questions.select_related("issue_category", "issue_department"))
        if version.state == VersionState.PUBLISHED:
            _questions[version.pk] = found
    return found


# --------------------------------------------------------------------------- recording


def answers_record(
    *,
    by: User,
    records: list[AnswerInput],
    context: AuditContext | None = None,
) -> list[RecordResult]:
    """Save a batch of a visitor's records; one result per record, in their order."""
    if len(records) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} records a batch")
    results: dict[uuid.UUID, RecordResult] = {}
    sent = records  # a record sent twice in one batch gets the same answer twice
    ids = [r.client_uuid for r in records]
    if len(set(ids)) != len(ids):
        seen: set[uuid.UUID] = set()
        kept = []
        for r in records:
            if r.client_uuid in seen:
                continue
            seen.add(r.client_uuid)
            kept.append(r)
        records = kept
    try:
        # One transaction for the reads and the writes: the tasks are read under their row
        # locks, so a task a concurrent sync finished is seen done here, not written twice.
        # The notifications of the sync go out as one job after its commit; the audit rows are
        # written together at its end; calendars and units are read once a sync.
        # (Called inside a transaction of the caller's, the commit is the caller's and lands
        # after this call: each notification call then goes out as its own job at it.)
        own = not transaction.get_connection().in_atomic_block
        with memoized(), delivery_batch() if own else nullcontext(), transaction.atomic():
            with audit_batch():
                _record_fresh(by, records, results, context)
    except IntegrityError:
        # Another sync saved one of these ids between our read and our write: take them one
        # at a time, each finding its replay or its conflict.
        if len(records) == 1:
            raise
        results.clear()
        for r in records:
            results[r.client_uuid] = answers_record(by=by, records=[r], context=context)[0]
    return [results[r.client_uuid] for r in sent]


def _record_fresh(
    by: User,
    records: list[AnswerInput],
    results: dict[uuid.UUID, RecordResult],
    context: AuditContext | None,
) -> None:
    existing = {
        client_uuid: (pk, content_hash, entered_by_id)
        for client_uuid, pk, content_hash, entered_by_id in Response.objects.filter(
            client_uuid__in=[r.client_uuid for r in records]
        ).values_list("client_uuid", "pk", "content_hash", "entered_by_id")
    }
    fresh: list[AnswerInput] = []
    for r in records:
        row = existing.get(r.client_uuid)
        if row is None:
            fresh.append(r)
        elif row[1] == r.digest() and row[2] == by.pk:
            results[r.client_uuid] = RecordResult(r.client_uuid, Status.REPLAY, response_id=row[0])
        else:
            results[r.client_uuid] = RecordResult(
                r.client_uuid,
                Status.CONFLICT,
                MenuErrorCode.DUPLICATE,
                {"client_uuid": _("Another record was already saved under this id.")},
            )
    prepared = _prepare(by, fresh, results)
    if prepared:
        _write(by, prepared, results, context)


@dataclass
class _Prepared:
    input: AnswerInput
    task: Task
    version: MenuVersion
    answers: dict[str, object]
    digest: str
    too_fast: bool


def _prepare(
    by: User, records: list[AnswerInput], results: dict[uuid.UUID, RecordResult]
) -> list[_Prepared]:
    if not records:
        return []
    # Locked in key order (two syncs sharing tasks take their turns, never a circle); the
    # campaign is read once, not once a row.
    tasks = {
        t.pk: t
        for t in Task.objects.select_for_update(of=("self",))
        .filter(pk__in={r.task_id for r in records})
        .order_by("pk")
    }
    campaigns = {
        c.pk: c for c in Campaign.objects.filter(pk__in={t.campaign_id for t in tasks.values()})
    }
    for t in tasks.values():
        t.campaign = campaigns[t.campaign_id]
    wanted = {r.version_id for r in records} | {c.version_id for c in campaigns.values()}
    versions = {v.pk: v for v in MenuVersion.objects.filter(pk__in=wanted).select_related("menu")}
    campaign_versions = {pk: v.number for pk, v in versions.items()}
    visitors = {
        u.pk: u
        for u in User.objects.filter(
            pk__in={r.visitor_id for r in records if r.visitor_id is not None}, is_active=True
        )
    }
    now = timezone.now()
    prepared: list[_Prepared] = []
    taken_tasks: set[int] = set()

    def refuse(r: AnswerInput, status: str, code: str, errors: dict[str, str]) -> None:
        results[r.client_uuid] = RecordResult(r.client_uuid, status, code, errors)

    for r in records:
        task = tasks.get(r.task_id)
        if task is None or not allowed(by, MenuAction.ANSWER, task):
            refuse(
                r,
                Status.NOT_FOUND,
                MenuErrorCode.NOT_YOUR_TASK,
                {"task": _("This household is not one of yours in this campaign.")},
            )
            continue
        campaign = task.campaign
        if task.outcome or task.pk in taken_tasks:
            refuse(
                r,
                Status.CONFLICT,
                MenuErrorCode.ALREADY_DONE,
                {"task": _("This household's answers were already recorded.")},
            )
            continue
        version = versions.get(r.version_id)
        if (
            version is None
            or version.menu_id != campaign.menu_id
            or version.state != VersionState.PUBLISHED
            or version.number > campaign_versions.get(campaign.version_id, 0)
        ):
            refuse(
                r,
                Status.REFUSED,
                MenuErrorCode.WRONG_VERSION,
                {"version": _("These answers name a version this campaign never asked.")},
            )
            continue
        errors: dict[str, str] = {}
        if r.visitor_id is not None:
            visitor = visitors.get(r.visitor_id)
            if not r.paper or visitor is None or not allowed(visitor, MenuAction.ANSWER, task):
                errors["visitor"] = _(
                    "Choose who went: the household's visitor or a cadre who may answer for it."
                )
        when = _time_problem(r, campaign, now)
        if when:
            errors["finished_at"] = when
        cleaned: dict[str, object] = {}
        if r.outcome in (Outcome.HOME, Outcome.PHONE):
            if r.reason:
                errors["reason"] = _("A reason is given only when nobody was reached.")
            cleaned, answer_errors = compiled_form(version, task.place_kind).validate(r.answers)
            errors.update({f"answers.{k}": v for k, v in answer_errors.items()})
        elif r.outcome == Outcome.NOT_REACHED:
            if r.reason not in NotReachedReason.values:
                errors["reason"] = _(
                    "Say why nobody was reached: moved away, empty house, refused."
                )
            if r.answers:
                errors["answers"] = _("A household nobody was reached in has no answers.")
        else:
            errors["outcome"] = _("Choose: at home, by phone, or not reached.")
        if errors:
            refuse(r, Status.REFUSED, _code(errors), errors)
            continue
        taken_tasks.add(task.pk)
        too_fast = (
            r.outcome != Outcome.NOT_REACHED
            and not r.paper
            and r.started_at is not None
            and (r.finished_at - r.started_at).total_seconds() < campaign.min_seconds
        )
        prepared.append(_Prepared(r, task, version, cleaned, r.digest(), too_fast))
    return prepared


def _code(errors: dict[str, str]) -> str:
    keys = set(errors)
    if keys == {"finished_at"}:
        return MenuErrorCode.BAD_TIME
    if "outcome" in keys:
        return MenuErrorCode.UNKNOWN_OUTCOME
    if "reason" in keys:
        return MenuErrorCode.REASON_REQUIRED
    return MenuErrorCode.ANSWERS


def _time_problem(r: AnswerInput, campaign: Campaign, now: dt.datetime) -> str:
    for moment in (r.finished_at, r.started_at):
        if moment is not None and timezone.is_naive(moment):
            return _("Give the time with its time zone.")
    if r.finished_at > now + CLOCK_SKEW:
        return _("The answers cannot be from the future (it is %(now)s now).") % {
            "now": timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
        }
    if r.started_at is not None and r.started_at > r.finished_at:
        return _("The visit ends before it starts.")
    day = timezone.localdate(r.finished_at)
    if not campaign.starts_on <= day <= campaign.ends_on:
        return _(
            "The campaign runs from %(start)s to %(end)s; these answers are dated %(day)s."
        ) % {
            "start": campaign.starts_on.isoformat(),
            "end": campaign.ends_on.isoformat(),
            "day": day.isoformat(),
        }
    # A closed campaign still takes records made inside its window: a phone offline for days
    # sends them late, and what was asked at the door is not lost.
    return ""


def answers_hash(answers: dict[str, object]) -> str:
    text = json.dumps(answers, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write(
    by: User,
    prepared: list[_Prepared],
    results: dict[uuid.UUID, RecordResult],
    context: AuditContext | None,
) -> None:
    now = timezone.now()
    responses = insert_rows(
        [
            Response(
                client_uuid=p.input.client_uuid,
                content_hash=p.digest,
                task=p.task,
                version=p.version,
                visitor_id=(
                    p.input.visitor_id
                    if p.input.paper and p.input.visitor_id is not None
                    else p.task.assignee_id
                    if p.input.paper and p.task.assignee_id
                    else by.pk
                ),
                entered_by=by,
                outcome=p.input.outcome,
                reason=p.input.reason,
                paper=p.input.paper,
                started_at=p.input.started_at,
                finished_at=p.input.finished_at,
                answers=p.answers,
                answers_hash=answers_hash(p.answers) if p.answers else "",
                too_fast=p.too_fast,
                created_at=now,
            )
            for p in prepared
        ]
    )
    if any(r.pk is None for r in responses):  # backends without RETURNING (none today)
        by_uuid = dict(
            Response.objects.filter(
                client_uuid__in=[p.input.client_uuid for p in prepared]
            ).values_list("client_uuid", "pk")
        )
        for r in responses:
            r.pk = by_uuid[r.client_uuid]
    _mark_done(prepared, now)
    # The counters' rows are locked in two steps, each in key order. The rows of the villages
    # (and of their grids) after the tasks and before the issues: two syncs of one village
    # take their turns, and the second sees the issue the first raised (and joins it) instead
    # of raising its own. The rows above the village (town, county), which every sync of the
    # town shares, only for the last statements before the commit: syncs of different
    # villages run side by side. No sync waits for a village's row while it holds a town's,
    # so no two syncs wait on each other in a circle.
    villages, above = _progress_keys(prepared)
    _locked_in_order(Progress, villages)
    raised = _raise_issues(by, prepared, responses, context)
    _tally(prepared)
    _locked_in_order(Progress, above)
    _count(prepared, raised)
    audit_record(
        action=AuditAction.MENUS_ANSWERS,
        user=by,
        context=context,
        object_type="menus.campaign",
        object_id=",".join(sorted({str(p.task.campaign_id) for p in prepared})),
        detail={
            "records": len(prepared),
            "responses": [r.pk for r in responses],
            "issues": sorted({i for ids in raised.values() for i, _new in ids}),
        },
    )
    for p, resp in zip(prepared, responses, strict=True):
        results[p.input.client_uuid] = RecordResult(
            p.input.client_uuid,
            Status.SAVED,
            response_id=resp.pk,
            issue_ids=sorted(i for i, _new in raised.get(p.task.pk, [])),
        )


def _mark_done(prepared: list[_Prepared], now: dt.datetime) -> None:
    """The batch's tasks done, each with its outcome, in one UPDATE (on PostgreSQL from one
    array a column: three parameters, not a CASE over a hundred)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Task._meta.db_table)
        with connection.cursor() as cursor:
            # Only the table's name (quoted) is formatted in.
            cursor.execute(
                f"UPDATE {table} AS t "  # noqa: S608
                "SET outcome = u.outcome, done_at = %s, flagged = u.flagged "
                "FROM UNNEST(%s::bigint[], %s::varchar[], %s::boolean[]) "
                "AS u(id, outcome, flagged) WHERE t.id = u.id",
                [
                    now,
                    [p.task.pk for p in prepared],
                    [p.input.outcome for p in prepared],
                    [p.too_fast for p in prepared],
                ],
            )
        return
    by_outcome: dict[str, list[int]] = defaultdict(list)
    for p in prepared:
        by_outcome[p.input.outcome].append(p.task.pk)
    flagged = [p.task.pk for p in prepared if p.too_fast]
    outcome: Any
    if len(by_outcome) == 1:
        outcome = next(iter(by_outcome))
    else:
        outcome = Case(
            *[When(pk__in=ids, then=Value(o)) for o, ids in sorted(by_outcome.items())],
            output_field=Task._meta.get_field("outcome"),
        )
    Task.objects.filter(pk__in=[p.task.pk for p in prepared]).update(
        outcome=outcome,
        done_at=now,
        flagged=Case(When(pk__in=flagged, then=Value(True)), default=Value(False))
        if flagged
        else False,
    )


def _count(prepared: list[_Prepared], raised: dict[int, list[tuple[int, bool]]]) -> None:
    """Add the batch to the progress of every node on each household's path (rows exist from
    the campaign's start; the scope's ancestors have none and are not touched). The rows were
    locked in one order by the caller, so two syncs never wait on each other in a circle."""
    deltas: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for p in prepared:
        new_issues = sum(1 for _i, new in raised.get(p.task.pk, []) if new)
        for node_id in (int(x) for x in p.task.node_path.strip("/").split("/")):
            c = deltas[(p.task.campaign_id, node_id)]
            c[p.input.outcome] += 1
            if new_issues:
                c["issues"] += new_issues
    groups: dict[tuple[int, tuple[tuple[str, int], ...]], list[int]] = defaultdict(list)
    for (campaign_id, node_id), c in deltas.items():
        groups[(campaign_id, tuple(sorted(c.items())))].append(node_id)
    for (campaign_id, items), node_ids in sorted(groups.items()):
        Progress.objects.filter(campaign_id=campaign_id, node_id__in=node_ids).update(
            **{k: F(k) + v for k, v in items}
        )


def _progress_keys(
    prepared: list[_Prepared],
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """The batch's progress rows: (those of its villages and below, those above them)."""
    villages: set[tuple[int, int]] = set()
    above: set[tuple[int, int]] = set()
    for p in prepared:
        path = [int(x) for x in p.task.node_path.strip("/").split("/")]
        cut = path.index(p.task.village_id) if p.task.village_id in path else 0
        above.update((p.task.campaign_id, n) for n in path[:cut])
        villages.update((p.task.campaign_id, n) for n in path[cut:])
    return villages, above


def _locked_in_order(model: Any, keys: Any) -> None:
    """Take the row locks of the counters a batch will add to, in primary-key order
    (PostgreSQL; SQLite has one writer anyway)."""
    if connection.vendor != "postgresql":
        return
    by_campaign: dict[int, list[int]] = defaultdict(list)
    for campaign_id, node_id in keys:
        by_campaign[campaign_id].append(node_id)
    for campaign_id, node_ids in sorted(by_campaign.items()):
        list(
            model.objects.select_for_update()
            .filter(campaign_id=campaign_id, node_id__in=node_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def _tally_plan(version: MenuVersion) -> dict[str, tuple[int, str]]:
    """``{question name: (question id, "choice" | "number" | "text")}`` of the questions a
    version tallies, built once per process for a published version."""
    found = _tallied.get(version.pk)
    if found is None:
        found = {}
        for q in version_questions(version):
            if q.qtype in CHOICE_TYPES:
                found[q.name] = (q.pk, "choice")
            elif q.qtype in NUMBER_TYPES:
                found[q.name] = (q.pk, "number")
            elif q.qtype == QType.TEXT:
                found[q.name] = (q.pk, "text")
        if version.state == VersionState.PUBLISHED:
            _tallied[version.pk] = found
    return found


def _tally(prepared: list[_Prepared]) -> None:
    """Add the batch's answers to the village tallies the departments' results read.

    The row with choice "" counts the households that answered the question (of a number,
    also their sum): for a choice question it is the base of each choice's share, which the
    choices' own counts cannot give when several may be chosen."""
    counts: Counter[tuple[int, int, int, str]] = Counter()
    totals: dict[tuple[int, int, int, str], Decimal] = {}
    for p in prepared:
        if not p.answers:
            continue
        plan = _tally_plan(p.version)
        campaign_id, village_id = p.task.campaign_id, p.task.village_id
        for name, value in p.answers.items():
            found = plan.get(name)
            if found is None:
                continue
            question_id, kind = found
            base = (campaign_id, question_id, village_id, "")
            counts[base] += 1
            if kind == "choice":
                for choice in value if isinstance(value, list) else (value,):
                    counts[(campaign_id, question_id, village_id, str(choice))] += 1
            elif kind == "number":
                totals[base] = totals.get(base, Decimal(0)) + Decimal(str(value))
    if counts:
        _add_to_tallies(counts, totals)


def _add_to_tallies(
    counts: Counter[tuple[int, int, int, str]], totals: dict[tuple[int, int, int, str], Decimal]
) -> None:
    """One upsert for the batch: a missing cell is made, an existing one added to (in key
    order, so two syncs lock shared cells in the same order on PostgreSQL).

    On PostgreSQL the rows go as one array a column (``UNNEST``): a statement of six
    parameters, which psycopg neither re-parses nor quotes value by value as it does a
    ``VALUES`` list of a few hundred rows (6 ms of a sync's 65, measured)."""
    table = connection.ops.quote_name(Tally._meta.db_table)
    field = Tally._meta.get_field("total")
    keys = sorted(counts)
    zero = Decimal(0)

    def total(key: tuple[int, int, int, str]) -> Any:
        value = totals.get(key, zero)
        return connection.ops.adapt_decimalfield_value(
            value, field.max_digits, field.decimal_places
        )

    upsert = (
        f"ON CONFLICT (campaign_id, question_id, village_id, choice) "
        f"DO UPDATE SET count = {table}.count + excluded.count, "
        f"total = {table}.total + excluded.total"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = list(zip(*keys, strict=True))
            # Only the table's name (quoted) is formatted in.
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, question_id, village_id, choice, count, total) "  # noqa: S608
                "SELECT * FROM UNNEST(%s::bigint[], %s::bigint[], %s::bigint[], %s::varchar[], "
                f"%s::integer[], %s::numeric[]) {upsert}",
                [
                    list(columns[0]),
                    list(columns[1]),
                    list(columns[2]),
                    list(columns[3]),
                    [counts[k] for k in keys],
                    [total(k) for k in keys],
                ],
            )
            return
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            params: list[Any] = []
            for key in chunk:
                params += [*key, counts[key], total(key)]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            # Only the table's name (quoted) and placeholders are formatted in.
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, question_id, village_id, choice, count, total) "  # noqa: S608
                f"VALUES {values} {upsert}",
                params,
            )


def _raise_issues(
    by: User,
    prepared: list[_Prepared],
    responses: list[Response],
    context: AuditContext | None,
) -> dict[int, list[tuple[int, bool]]]:
    """The issues the answers raise: ``{task id: [(issue id, new?), …]}``. A household whose
    village already has an open issue from the same question joins it (the seed's irrigation
    power line: several households, one report to the town)."""
    from minqing.issues.services import issue_join_by_rule, issue_register

    out: dict[int, list[tuple[int, bool]]] = {}
    found: list[tuple[_Prepared, Response, list[tuple[MenuQuestion, set[str]]]]] = []
    for p, response in zip(prepared, responses, strict=True):
        hits: list[tuple[MenuQuestion, set[str]]] = []
        for q in _rule_questions(p.version):
            if q.name not in p.answers:
                continue
            value = p.answers[q.name]
            chosen = {str(v) for v in value} if isinstance(value, list) else {str(value)}
            if chosen & set(q.issue_on):
                hits.append((q, chosen & set(q.issue_on)))
        if hits:
            found.append((p, response, hits))
    if not found:
        return out
    # Only the households that raise something are read (a sync rarely has more than one).
    households = {
        h.pk: h
        for h in Household.objects.filter(
            pk__in=[p.task.household_id for p, _r, _h in found]
        ).select_related("node")
    }
    # The open issues these villages already have from the same questions (by name: version 2
    # keeps a question's name), read once for the sync; the first raised is the one joined
    # (``issue_join_by_rule`` locks it and checks it is still open).
    open_issues: dict[tuple[int, int, str], int] = {}
    shared = {
        (p.task.campaign_id, p.task.village_id, q.name)
        for p, _r, hits in found
        for q, _c in hits
        if q.issue_shared
    }
    if shared:
        rows = (
            RaisedIssue.objects.filter(
                campaign_id__in={k[0] for k in shared},
                village_id__in={k[1] for k in shared},
                question__name__in={k[2] for k in shared},
                joined=False,
                issue__status__in=OPEN_STATES,
            )
            .order_by("issue_id")
            .values_list("campaign_id", "village_id", "question__name", "issue_id")
        )
        for c, v, name, issue_id in rows:
            if (c, v, name) in shared:
                open_issues.setdefault((c, v, name), issue_id)
    made: list[RaisedIssue] = []
    for p, response, hits in found:
        household = households[p.task.household_id]
        for q, chosen in hits:
            labels = "、".join(c[1] for c in q.choices if c[0] in chosen)
            words = f"{q.label_zh}：{labels}"
            rule = _("Quarterly menu: %(question)s") % {"question": words}
            key = (p.task.campaign_id, p.task.village_id, q.name)
            open_issue = open_issues.get(key) if q.issue_shared else None
            if open_issue is not None:
                issue_join_by_rule(
                    issue_id=open_issue,
                    household=household,
                    words=words,
                    rule=rule,
                    context=context,
                )
                issue_id, joined = open_issue, True
            else:
                issue_id = issue_register(
                    by=by,
                    node=household.node,
                    household=household,
                    category=q.issue_category,
                    description=words,
                    title=words[:100],
                    colour=q.issue_colour,
                    complexity=q.issue_complexity,
                    source=Source.MENU,
                    context=context,
                    for_household_task=True,  # _prepare checked MenuAction.ANSWER on the task
                    dispatch_by_rule=(
                        (q.issue_department, rule) if q.issue_department is not None else None
                    ),
                ).pk
                joined = False
                if q.issue_shared:
                    open_issues[key] = issue_id  # the next household of the sync joins it
            made.append(
                RaisedIssue(
                    response=response,
                    question=q,
                    issue_id=issue_id,
                    campaign_id=p.task.campaign_id,
                    village_id=p.task.village_id,
                    joined=joined,
                )
            )
            out.setdefault(p.task.pk, []).append((issue_id, not joined))
    RaisedIssue.objects.bulk_create(made)
    return out


# --------------------------------------------------------------------------- phone tries


@dataclass
class CallInput:
    client_uuid: uuid.UUID
    task_id: int
    at: dt.datetime
    result: str


def call_record(*, by: User, data: CallInput, context: AuditContext | None = None) -> RecordResult:
    """One phone try for a household nobody was home at (no answer, busy, wrong number,
    refused); at most the campaign's ``call_limit`` a household. Replay-safe by client id."""
    if data.result not in CallResult.values:
        return RecordResult(
            data.client_uuid,
            Status.REFUSED,
            MenuErrorCode.UNKNOWN_RESULT,
            {"result": _("Choose what happened: no answer, busy, wrong number, refused.")},
        )
    if timezone.is_naive(data.at) or data.at > timezone.now() + CLOCK_SKEW:
        return RecordResult(
            data.client_uuid,
            Status.REFUSED,
            MenuErrorCode.BAD_TIME,
            {"at": _("Give the time of the call, with its time zone, not in the future.")},
        )
    refused: RecordResult | None = None
    for attempt in (1, 2):
        # One transaction (a savepoint inside the caller's): a concurrent request that saves
        # the same id between our look and our insert makes it fail, and the second look
        # answers as that request did (replay or conflict).
        try:
            with transaction.atomic():
                refused = _call_save(by, data, context)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    if refused is not None:
        return refused
    return RecordResult(data.client_uuid, Status.SAVED, response_id=None)


def _call_save(by: User, data: CallInput, context: AuditContext | None) -> RecordResult | None:
    """Save the try (None) or say why not; inside the caller's transaction."""
    # The task under its lock first: what it says (done, tries so far) is current.
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .filter(pk=data.task_id)
        .first()
    )
    existing = (
        CallAttempt.objects.filter(client_uuid=data.client_uuid)
        .values_list("task_id", "by_id", "result", "at")
        .first()
    )
    if existing is not None:
        task_id, by_id, result, at = existing
        same = (
            task_id == data.task_id
            and by_id == by.pk
            and result == data.result
            and abs((at - data.at).total_seconds()) < 1
        )
        if same:
            return RecordResult(data.client_uuid, Status.REPLAY)
        return RecordResult(
            data.client_uuid,
            Status.CONFLICT,
            MenuErrorCode.DUPLICATE,
            {"client_uuid": _("Another record was already saved under this id.")},
        )
    if task is None or not allowed(by, MenuAction.ANSWER, task):
        return RecordResult(
            data.client_uuid,
            Status.NOT_FOUND,
            MenuErrorCode.NOT_YOUR_TASK,
            {"task": _("This household is not one of yours in this campaign.")},
        )
    if task.outcome:
        return RecordResult(
            data.client_uuid,
            Status.CONFLICT,
            MenuErrorCode.ALREADY_DONE,
            {"task": _("This household's answers were already recorded.")},
        )
    if task.call_attempts >= task.campaign.call_limit:
        return RecordResult(
            data.client_uuid,
            Status.REFUSED,
            MenuErrorCode.CALL_LIMIT,
            {
                "task": _(
                    "%(n)d tries already: record the household as not reached, with the reason."
                )
                % {"n": task.call_attempts}
            },
        )
    call = CallAttempt.objects.create(
        client_uuid=data.client_uuid, task=task, by=by, at=data.at, result=data.result
    )
    Task.objects.filter(pk=task.pk).update(call_attempts=F("call_attempts") + 1)
    audit_record(
        action=AuditAction.MENUS_CALL,
        user=by,
        context=context,
        obj=call,
        detail={"task": task.pk, "result": data.result},
    )
    return None
