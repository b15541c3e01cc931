"""Visits in the JSON API (/api/v1/visits/): what the offline queue and other clients post.

``POST /visits/`` with a ``client_uuid`` made on the phone: 201 with the new visit, 200 with the
same body when the record was already saved (a replay changes nothing), 409 when the id is
taken by a different record, 404 for a household out of scope.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from minqing.accounts.middleware import AuthedRequest
from minqing.api import error_responses
from minqing.lib.context import AuditContext
from minqing.visits import selectors, services

router = Router(tags=["visits"])


class ProblemIn(Schema):
    colour: str = Field(description="green (solved on the spot), blue, yellow or orange")
    description: str
    category: str = Field("", description="category code; empty: guessed from alike issues")
    resolution: str = Field("", description="green: what was done on the spot")


class VisitIn(Schema):
    client_uuid: uuid.UUID
    household: int
    mode: str = "home"
    visited_at: dt.datetime = Field(
        description=(
            "ISO 8601 with the UTC offset, e.g. the phone's own time: 2026-12-01T20:15:00+08:00. "
            "At most 10 minutes ahead of the server; not before the county's look-back "
            "(default 90 days; a visit may predate the household's entry)."
        )
    )
    notes: str = ""
    materials: str = ""
    problems: list[ProblemIn] = Field(default_factory=list, max_length=services.MAX_PROBLEMS)
    companions: list[int] = Field(default_factory=list, max_length=20)
    situation: str | None = None
    household_version: int | None = None
    night_plan: int | None = Field(None, description="the night visit this was a stop of")


class VisitOut(Schema):
    id: int
    client_uuid: uuid.UUID
    household: int
    mode: str
    visited_at: dt.datetime
    issues: list[int]
    replay: bool


class MyHouseholdOut(Schema):
    id: int
    number: str
    head_name: str
    grid: str
    last_visit: dt.date | None
    due_on: dt.date | None
    status: str
    task: str


def _out(recorded: services.Recorded) -> dict:
    visit = recorded.visit
    return {
        "id": visit.pk,
        "client_uuid": visit.client_uuid,
        "household": visit.household_id,
        "mode": visit.mode,
        "visited_at": visit.visited_at,
        "issues": recorded.issues(),
        "replay": not recorded.created,
    }


@router.post(
    "",
    url_name="visit_record",
    response={200: VisitOut, 201: VisitOut, **error_responses(400, 404, 409)},
)
def visit_record(request: AuthedRequest, data: VisitIn):
    """Record a visit (idempotent by ``client_uuid``)."""
    payload = services.VisitInput(
        client_uuid=data.client_uuid,
        household_id=data.household,
        mode=data.mode,
        visited_at=data.visited_at,
        notes=data.notes,
        materials=data.materials,
        problems=[services.Problem(**p.dict()) for p in data.problems],
        companion_ids=data.companions,
        situation=data.situation,
        household_version=data.household_version,
        night_plan_id=data.night_plan,
    )
    try:
        recorded = services.visit_record(
            by=request.user, data=payload, context=AuditContext.of(request)
        )
    except services.DuplicateVisit as exc:
        return Status(409, {"detail": str(exc), "code": exc.code})
    status = 201 if recorded.created else 200
    return Status(status, _out(recorded))


@router.get("mine/", url_name="my_households", response={200: list[MyHouseholdOut]})
def my_households(request: HttpRequest):
    """The households in my care, the most overdue first."""
    return [
        {
            "id": r.id,
            "number": r.number,
            "head_name": r.head_name,
            "grid": r.grid,
            "last_visit": r.last_visit,
            "due_on": r.due_on,
            "status": r.status,
            "task": r.task,
        }
        for r in selectors.my_households(request.user)
    ]
