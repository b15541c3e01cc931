"""The security bar as a whole (docs/SECURITY-BAR.md): the lines no other test file owns, and
the check that the root SECURITY.md names only tests that exist, for every line of the bar."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse

from minqing.accounts.models import User

ROOT = Path(__file__).resolve().parents[3]
SECURITY = ROOT / "SECURITY.md"  # the project's mapping of each promise to its tests
BAR = ROOT / "docs" / "SECURITY-BAR.md"  # the bar those promises come from
NODE_ID = re.compile(r"`(minqing/[\w/]+\.py)(?:::(\w+))?`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test_"
        ):
            names.add(node.name)
    return names


def test_every_test_this_file_names_exists():
    text = SECURITY.read_text(encoding="utf-8")
    table = text[text.index("## Each promise and its test") :]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    # Every line of the bar and every attack found on the demo (A1–A18) has a row with a test.
    bar_lines = re.findall(r"^(\d+)\. ", BAR.read_text(encoding="utf-8"), re.MULTILINE)
    assert bar_lines == [str(n) for n in range(1, 21)]
    numbers = [row.removeprefix("| ").split(". ", 1)[0] for row in rows]
    assert numbers == bar_lines + [f"A{n}" for n in range(1, 19)]
    missing = []
    for row in rows:
        ids = NODE_ID.findall(row)
        assert ids, f"a promise without a test: {row[:80]}"
        for path, name in ids:
            file = ROOT / path
            if not file.is_file():
                missing.append(path)
            elif name and name not in _tests_in(file):
                missing.append(f"{path}::{name}")
    assert missing == []


def test_a_fresh_install_has_no_account(db):
    # The test database is what `minqing migrate` makes: no account, so no known password.
    assert User.objects.count() == 0


def test_no_migration_or_fixture_makes_an_account():
    package = ROOT / "minqing"
    makers = re.compile(r"create_user|create_superuser|set_password|make_password")
    offenders = [
        str(path.relative_to(ROOT))
        for path in package.glob("*/migrations/*.py")
        if makers.search(path.read_text(encoding="utf-8"))
    ]
    fixtures = [str(p.relative_to(ROOT)) for p in package.glob("**/fixtures/*") if p.is_file()]
    assert offenders == []
    assert fixtures == []


@pytest.mark.django_db
def test_a_session_idle_for_thirty_minutes_is_over(client, county, owner):
    page = reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    start = dt.datetime(2026, 12, 31, 15, 20, tzinfo=dt.UTC)  # 23:20 in Asia/Shanghai
    with time_machine.travel(start, tick=False) as clock:
        client.force_login(owner)
        assert client.get(page).status_code == 200
        clock.shift(dt.timedelta(minutes=29))
        assert client.get(page).status_code == 200  # each request renews the idle clock
        clock.shift(dt.timedelta(minutes=31))
        response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
