"""``minqing bench`` end to end on a tiny county, and ``minqing demo --build-only``."""

from __future__ import annotations

import io
from collections import Counter

import pytest
import time_machine
from django.core.management import call_command

from minqing.accounts.models import User


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db
def test_bench_runs_end_to_end(settings):
    # As deployed: the command centre (the bench's county user) must pass the second factor,
    # which the bench's own logins are spared; the tests' default spares everyone.
    settings.MINQING_OTP_REQUIRED_ROLES = frozenset(
        {"security_admin", "system_admin", "auditor", "command_centre"}
    )
    out, err = io.StringIO(), io.StringIO()
    call_command("bench", households=30, repeat=3, here=True, stdout=out, stderr=err)
    table = out.getvalue()
    assert table.startswith("### Minqing benchmark")
    assert "| County build: 30 households" in table
    for figure in (
        "Household page · county user",
        "Village page · village cadre",
        "Search: exact ID number · county user",
        "Search: phone · village cadre",
        "Household page queries: smallest",
        "| Issue data: ",
        "| Similar-issue lookup (",
        "| Dispatch board · town user",
        "| Dispatch board · county user",
        "| Issue page · town user",
        "| Issue page · county user",
        "| Dispatch board queries: smallest town",
        "| Issue page queries (",
        "| Full deadline sweep (",
        "| Deadline sweep again at the same instant (idempotence) | escalated 0, warned 0 |",
        "| Full assignment: 30 households",
        "| Assignment again, nothing changed (stability) |",
        "| Visit submission through the API (",
        "| Visits through the API while a 2,000-row ledger is imported (",
        "| My households · group leader (",
    ):
        assert figure in table
    assert "trivial logged-in page" in table
    # every page answered 200: a redirect or an error would be flagged "HTTP …" (timings are
    # the bench's business, not the test's: a busy CI machine may miss a target)
    assert "HTTP " not in table
    assert "no figure" not in table


def test_a_figure_over_unexpected_answers_is_refused():
    from minqing.demo.bench import Timing, refusal

    assert refusal({201: 400}, {201}) == ""
    assert refusal({201: 279, 400: 121}, {201}) == (
        "no figure: 121 of 400 answers were not 201 (HTTP 400×121)"
    )
    timing = Timing([5.0, 6.0, 7.0], 4, Counter({200: 2, 302: 1}))
    assert timing.text() == "no figure: 1 of 3 answers were not 200 (HTTP 302×1)"
    assert "p95" not in timing.text()
    assert Timing([5.0, 6.0], 4, Counter({200: 2})).text() == (
        "p50 5.5 ms / p95 6.0 ms · 4 queries"
    )


@pytest.mark.django_db
def test_demo_build_only_prints_logins():
    out = io.StringIO()
    call_command("demo", households=40, build_only=True, stdout=out)
    text = out.getvalue()
    for username in (
        "county",
        "town",
        "village",
        "grid",
        "water",
        "shop",
        "auditor",
        "secadmin",
        "sysadmin",
    ):
        assert f"\n{username} " in text
    password = next(line.split()[-1] for line in text.splitlines() if line.startswith("county "))
    assert User.objects.get(username="county").check_password(password)
    # A second start reuses the county and hands out new passwords.
    out2 = io.StringIO()
    call_command("demo", households=40, build_only=True, stdout=out2)
    assert "Reusing the demo county" in out2.getvalue()
    assert password not in out2.getvalue()


@pytest.mark.django_db
def test_demo_refuses_a_database_with_other_data(county):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a demo county"):
        call_command("demo", households=40, build_only=True, stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "said"),
    [
        ("2026-12-01T09:00+08:00", "Holidays of 2027 are not entered yet"),
        ("2026-06-01T09:00+08:00", "Official holidays of 2026 and 2027 are known."),
    ],
)
def test_the_demo_says_which_years_holidays_it_estimated(monkeypatch, now, said):
    from minqing.workdays import calendar

    # 2026 is announced, 2027 not (as on 2026-12-01), whatever the installed package knows.
    monkeypatch.setattr(calendar, "ANNOUNCED_YEARS", frozenset({2026}))
    if "known" in said:
        monkeypatch.setattr(calendar, "ANNOUNCED_YEARS", frozenset({2026, 2027}))
    with time_machine.travel(now, tick=False):
        out = io.StringIO()
        call_command("demo", households=30, build_only=True, stdout=out)
    assert said in out.getvalue()
