"""Fixtures for the issue loop: county departments, the people of each level, a settable clock.

``member`` (grid worker of 王庄村 一组) finds problems; ``owner`` is the 王庄村 cadre; ``town``
dispatches for 古井镇; ``water`` is the county water bureau's staff; ``county_user`` the
command centre; ``outsider`` the 李集村 cadre of the other town.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.issues.models import Category, Colour
from minqing.issues.services import issue_register
from minqing.org.models import Department

TZ = dt.timezone(dt.timedelta(hours=8))


class Clock:
    """``django.utils.timezone.now`` frozen at a settable instant (China time in, aware out)."""

    def __init__(self, monkeypatch, start: dt.datetime) -> None:
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, *args: int) -> dt.datetime:
        self.now = dt.datetime(*args, tzinfo=TZ)
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Monday 2026-11-23 10:00 China time, inside a year whose holidays are announced."""
    return Clock(monkeypatch, dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ))


@dataclass
class Departments:
    water: Department
    power: Department
    charity: Department


@pytest.fixture
def departments(county) -> Departments:
    make = Department.objects.create
    return Departments(
        water=make(county=county.county, name="区水利局", code="water"),
        power=make(county=county.county, name="供电公司", code="power"),
        charity=make(
            county=county.county,
            name="爱心超市",
            code="shop",
            kind=Department.Kind.CO_BUILDING,
        ),
    )


@pytest.fixture
def town(county):
    return make_user("town", Role.TOWN_STAFF, county.town_a)


@pytest.fixture
def water(departments):
    return make_user("water", Role.DEPARTMENT, department=departments.water)


@pytest.fixture
def shop(departments):
    return make_user("shop", Role.CO_BUILDING_UNIT, department=departments.charity)


@pytest.fixture
def irrigation(db) -> Category:
    return Category.objects.get(code="irrigation")


@pytest.fixture
def register(county, member, irrigation):
    """Register an issue as the grid worker, with sensible defaults."""

    def _register(**kw):
        kw.setdefault("by", member)
        kw.setdefault("node", county.grid_a1)
        kw.setdefault("category", irrigation)
        kw.setdefault("description", "村东头的灌溉水渠破了，水流不到地里")
        kw.setdefault("colour", Colour.YELLOW)
        return issue_register(**kw)

    return _register


@pytest.fixture
def writes():
    """``writes()``: what a refused step must leave as it was — every issue's status and
    version, and the rows of the timeline, reporters, revisits, photos, topics, notifications
    and the audit trail. Compare a reading before the refusal with one after it."""
    from minqing.audit.models import AuditEvent
    from minqing.issues.models import Issue, IssueEvent, IssuePhoto, IssueReporter, Revisit, Topic
    from minqing.notifications.models import Notification

    def read() -> tuple:
        return (
            list(Issue.objects.order_by("pk").values_list("pk", "status", "version")),
            *(
                model.objects.count()
                for model in (
                    IssueEvent,
                    IssueReporter,
                    Revisit,
                    IssuePhoto,
                    Topic,
                    Notification,
                    AuditEvent,
                )
            ),
        )

    return read
