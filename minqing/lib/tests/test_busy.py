"""A write that waits for the database lock in vain answers 503 "busy, try again" (in the
reader's language; JSON under /api/), never a 500 (a large import must not fail other users). The
real lock is in ``households/tests/test_ledger_concurrency.py``."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone, translation

from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.conftest import make_user
from minqing.lib.busy import is_busy
from minqing.visits import services as visit_services

BUSY_ZH = "服务器正忙"


@pytest.fixture
def leader(county):
    return make_user("leader", Role.GROUP_LEADER, county.grid_a1)


def _locked(*args, **kwargs):
    raise OperationalError("database is locked")


def test_a_locked_database_on_a_page_is_a_503_page_in_chinese(client, county, leader, monkeypatch):
    client.force_login(leader)
    monkeypatch.setattr("minqing.visits.selectors.my_households", _locked)
    with translation.override("zh-hans"):
        response = client.get(reverse("visits:mine"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"
    assert BUSY_ZH in response.content.decode()


def test_a_locked_database_on_the_api_is_a_503_json(client, county, leader, monkeypatch):
    monkeypatch.setattr(visit_services, "visit_record", _locked)
    token = api_token_issue(user=leader)[1]
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household": county.household_a1.pk,
        "mode": "home",
        "visited_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        "notes": "走访",
    }
    response = client.post(
        reverse("api:visit_record"),
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 503
    assert BUSY_ZH in response.json()["detail"]


def test_other_database_errors_stay_errors():
    assert is_busy(OperationalError("database is locked"))
    assert is_busy(OperationalError("database table is locked"))
    wrapped = OperationalError("x")
    wrapped.__cause__ = sqlite3.OperationalError("database is locked")
    assert is_busy(wrapped)
    assert not is_busy(OperationalError("no such table: visits_visit"))
    assert not is_busy(ValueError("database is locked"))
    assert not is_busy(None)
