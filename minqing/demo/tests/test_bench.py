"""``minqing bench`` end to end on a tiny county, and ``minqing demo --build-only``."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from minqing.accounts.models import User


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db
def test_bench_runs_end_to_end():
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
        "| My households · group leader (",
    ):
        assert figure in table
    assert "trivial logged-in page" in table
    # every page answered 200: a redirect or an error would be flagged "HTTP …" (timings are
    # the bench's business, not the test's: a busy CI machine may miss a target)
    assert "HTTP " not in table


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
