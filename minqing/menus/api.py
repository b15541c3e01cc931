"""The quarterly menu in the JSON API (/api/v1/menus/): what the phone's outbox posts.

- ``POST answers/`` — a batch of a visitor's records (at most ``MAX_BATCH``), each made once
  per ``client_uuid`` on the phone. 200 with one result per record, in their order: ``saved``,
  ``replay`` (already saved: nothing changed), ``refused`` (``errors`` says why, per field;
  ``answers.NAME`` for a question), ``conflict`` (the id is taken by another record, or the
  household is done already) or ``not_found`` (not one of my tasks). A refused record changes
  nothing; the others are saved.
- ``POST calls/`` — one phone try (no answer, busy, wrong number, refused), at most the
  campaign's ``call_limit`` a household; answered with one result like a batch's.
- ``GET tasks/`` — my tasks of the open campaigns, not done first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from minqing.accounts.middleware import AuthedRequest
from minqing.api import error_responses
from minqing.lib.context import AuditContext
from minqing.menus.selectors.phone import open_tasks
from minqing.menus.services.answers import (
    MAX_BATCH,
    AnswerInput,
    CallInput,
    RecordResult,
    answers_record,
    call_record,
)

router = Router(tags=["menus"])

TIME = "ISO 8601 with the UTC offset (the phone's own time): 2027-02-22T09:55:00+08:00"


class AnswerRecordIn(Schema):
    client_uuid: uuid.UUID = Field(description="made by the phone when the form opened")
    task: int
    version: int = Field(description="the menu version the form was made from")
    outcome: str = Field(description="home, phone or not_reached")
    reason: str = Field("", description="not_reached: moved_away, empty_house or refused")
    answers: dict[str, Any] = Field(
        default_factory=dict,
        description="{question name: a choice name, a list of them, a number or a text}",
    )
    started_at: dt.datetime | None = Field(None, description=TIME)
    finished_at: dt.datetime = Field(description=TIME)


class AnswerBatchIn(Schema):
    records: list[AnswerRecordIn] = Field(description=f"at most {MAX_BATCH}")


class RecordOut(Schema):
    client_uuid: uuid.UUID
    status: str = Field(description="saved, replay, refused, conflict or not_found")
    code: str = Field(description="a stable machine code (minqing.menus.errors); '' when saved")
    errors: dict[str, str] = Field(description="{field or answers.NAME: what is wrong}")
    response: int | None = Field(description="the saved record's id (saved, replay)")
    issues: list[int] = Field(description="the issues the answers raised or joined")


class CallIn(Schema):
    client_uuid: uuid.UUID
    task: int
    at: dt.datetime = Field(description=TIME)
    result: str = Field(description="no_answer, busy, wrong_number or refused")


class TaskOut(Schema):
    id: int
    campaign: int
    campaign_title: str
    household: int
    number: str
    head_name: str = Field(description="as on my households (no ID number, no phone)")
    grid: str
    kind: str = Field(description="urban or rural: the version of the menu it is asked")
    version: int = Field(description="the version new answers are made with")
    outcome: str = Field(description="'' while open; home, phone or not_reached when done")
    call_attempts: int
    call_limit: int


def _out(result: RecordResult) -> dict[str, Any]:
    return {
        "client_uuid": result.client_uuid,
        "status": result.status,
        "code": str(result.code),
        "errors": {k: str(v) for k, v in result.errors.items()},
        "response": result.response_id,
        "issues": list(result.issue_ids),
    }


@router.post(
    "answers/", url_name="menu_answers", response={200: list[RecordOut], **error_responses()}
)
def answers(request: AuthedRequest, data: AnswerBatchIn):
    """Save a batch of records from the phone (replay-safe by ``client_uuid``)."""
    if len(data.records) > MAX_BATCH:
        raise ValidationError(
            {"records": _("At most %(n)d records in one batch.") % {"n": MAX_BATCH}}
        )
    records = [
        AnswerInput(
            client_uuid=r.client_uuid,
            task_id=r.task,
            version_id=r.version,
            outcome=r.outcome,
            reason=r.reason,
            answers=r.answers,
            started_at=r.started_at,
            finished_at=r.finished_at,
        )
        for r in data.records
    ]
    results = answers_record(by=request.user, records=records, context=AuditContext.of(request))
    return [_out(r) for r in results]


@router.post("calls/", url_name="menu_call", response={200: RecordOut, **error_responses()})
def calls(request: AuthedRequest, data: CallIn):
    """Record one phone try (replay-safe by ``client_uuid``)."""
    result = call_record(
        by=request.user,
        data=CallInput(data.client_uuid, data.task, data.at, data.result),
        context=AuditContext.of(request),
    )
    return _out(result)


@router.get("tasks/", url_name="menu_tasks", response={200: list[TaskOut]})
def tasks(request: AuthedRequest):
    """My tasks of the open campaigns, not done first."""
    return [
        {
            "id": r.id,
            "campaign": r.campaign_id,
            "campaign_title": r.campaign,
            "household": r.household_id,
            "number": r.number,
            "head_name": r.head_name,
            "grid": r.grid,
            "kind": r.kind,
            "version": r.version_id,
            "outcome": r.outcome,
            "call_attempts": r.call_attempts,
            "call_limit": r.call_limit,
        }
        for r in open_tasks(request.user)
    ]
