"""Fixtures shared by every app's tests: a small county, and the three users of docs/STYLE.md.

- ``owner``: village cadre of 王庄村 (can edit and reveal there)
- ``member``: grid worker of 王庄村 一组 (sees that grid only)
- ``outsider``: village cadre of 李集村, another town's village
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.households.models import Household, Resident
from minqing.households.services import household_create, resident_add
from minqing.lib.idcard import make_id_number
from minqing.org.models import Level, Node
from minqing.org.services import node_create

PASSWORD = "Correct-Horse-42"


#: Absolute query counts of pages and services, by name and database vendor (``pinned_queries``).
QUERY_COUNTS = Path(__file__).resolve().parent / "tests" / "query_counts.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-query-counts",
        action="store_true",
        default=False,
        help=f"write the query counts the tests measure into {QUERY_COUNTS.name} instead of "
        "comparing them (also MINQING_UPDATE_QUERY_COUNTS=1)",
    )


DEMO_TESTS = Path(__file__).resolve().parent / "demo"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The kinds of test the default run (``./dev test``) leaves out, marked in one place:

    - ``browser``: drives the browser (the ``browser`` fixture, minqing/lib/testing_browser);
    - ``live``: starts a process — the browser, or a server or command (``slow``);
    - ``demo``: every test of minqing/demo (the demo county and the bench);
    - ``bench``: the benchmark's own tests (``test_bench*`` modules).
    """
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("browser") or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.live)
        path = Path(str(item.path))
        if path.is_relative_to(DEMO_TESTS):
            item.add_marker(pytest.mark.demo)
        if path.name.startswith("test_bench"):
            item.add_marker(pytest.mark.bench)


#: A Django-signed value's timestamp and signature ("payload:1xYeC1:bRek…"): they change with the
#: clock, so test ids showing them would differ between two pytest-xdist workers' collections.
SIGNED = re.compile(r":[0-9A-Za-z]{4,8}:[A-Za-z0-9_-]{27,86}")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Parametrized ids without the timestamp and signature of signed tokens (same on every
    worker); every other value keeps pytest's own id."""
    if isinstance(val, str) and SIGNED.search(val):
        return SIGNED.sub(":signed", val)
    return None


class PinnedQueries:
    """Query counts pinned in one baseline file (``minqing/tests/query_counts.json``), beside
    the "few rows = many rows" checks: those say a page does not grow with the data, this says
    how many queries it takes at all, so one more query anywhere shows in review.

    ``with pinned_queries("issues.board"):`` captures the block; ``pinned_queries.pin(name,
    captured)`` pins a ``CaptureQueriesContext`` (or a count) a test already has. The file keys
    each name by database vendor (SQLite and PostgreSQL may differ); ``./dev test
    --update-query-counts`` (or ``MINQING_UPDATE_QUERY_COUNTS=1``) rewrites the counts measured.
    """

    def __init__(self, update: bool) -> None:
        self.update = update

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[CaptureQueriesContext]:
        with CaptureQueriesContext(connection) as captured:
            yield captured
        self.pin(name, captured)

    def pin(self, name: str, captured: CaptureQueriesContext | int) -> None:
        vendor = connection.vendor
        if isinstance(captured, int):
            count, sql = captured, []
        else:
            count, sql = len(captured), [q["sql"] for q in captured.captured_queries]
        if self.update:
            _write_query_count(name, vendor, count)
            return
        baseline = _read_query_counts().get(name, {}).get(vendor)
        if baseline == count:
            return
        listing = "\n".join(f"  {i}. {q[:300]}" for i, q in enumerate(sql, 1))
        said = "has no pinned count" if baseline is None else f"pinned at {baseline}"
        pytest.fail(
            f"queries of {name!r} on {vendor}: {count}, {said} in "
            f"{QUERY_COUNTS.relative_to(QUERY_COUNTS.parents[2])}"
            + (f" ({count - baseline:+d})" if baseline is not None else "")
            + ".\nIf the change is meant, run the test with --update-query-counts and commit "
            "the file." + (f"\nThe queries:\n{listing}" if listing else ""),
            pytrace=False,
        )


def _read_query_counts() -> dict[str, dict[str, int]]:
    try:
        return json.loads(QUERY_COUNTS.read_text())
    except FileNotFoundError:
        return {}


def _write_query_count(name: str, vendor: str, count: int) -> None:
    """Read, change, write under a lock: parallel workers (pytest-xdist) update one file."""
    QUERY_COUNTS.parent.mkdir(exist_ok=True)
    with (Path(tempfile.gettempdir()) / "minqing-query-counts.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        counts = _read_query_counts()
        counts.setdefault(name, {})[vendor] = count
        ordered = {k: dict(sorted(v.items())) for k, v in sorted(counts.items())}
        QUERY_COUNTS.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n")


@pytest.fixture
def pinned_queries(request: pytest.FixtureRequest) -> PinnedQueries:
    """Compare a block's query count with the baseline file (see ``PinnedQueries``)."""
    update = request.config.getoption("--update-query-counts", default=False) or (
        os.environ.get("MINQING_UPDATE_QUERY_COUNTS") == "1"
    )
    return PinnedQueries(bool(update))


@pytest.fixture
def browser():
    """Debian's chromium through Playwright, closed after the test."""
    from minqing.lib.testing_browser import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture(autouse=True)
def _keyring(tmp_path, settings):
    """Each test gets its own key ring outside the database."""
    settings.MINQING_KEYRING = tmp_path / "keyring.json"
    # The audit key and anchor file too (an anchor left by one test would cut the next's chain).
    settings.MINQING_AUDIT_KEY = tmp_path / "audit_key.json"
    settings.MINQING_AUDIT_ANCHORS = tmp_path / "audit_anchors.jsonl"
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP
    # A cache of its own (rate-limit counters must not leak from one test into the next).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        }
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """PBKDF2 on every fixture user dominates the suite's time; no test checks the hash itself
    (production keeps Django's default hashers)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    """Tests log in with ``force_login``: the second factor is enforced only where a test
    sets the roles (minqing/accounts/tests/test_otp.py)."""
    settings.MINQING_OTP_REQUIRED_ROLES = frozenset()


@pytest.fixture(autouse=True)
def _english(settings):
    """Tests read messages in English; test_i18n checks the Chinese pages themselves."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@dataclass
class County:
    county: Node
    town_a: Node
    town_b: Node
    village_a: Node
    village_b: Node
    grid_a1: Node
    grid_a2: Node
    grid_b1: Node
    household_a1: Household
    household_a2: Household
    household_b1: Household
    resident_a1: Resident
    resident_b1: Resident


def make_user(
    username: str, role: str | None = None, node: Node | None = None, department=None
) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, full_name=username)
    if role:
        role_assign(user=user, role=role, node=node, department=department)
    return user


def add_child(
    by: User, household: Household, name: str, *, age: int = 6, sex: str = "M", seq: int = 9
) -> Resident:
    """A grandchild under 14, whose record needs the minors permission."""
    today = dt.date.today()  # noqa: DTZ011 - a calendar date
    born = today.replace(year=today.year - age, day=min(today.day, 28))
    return resident_add(
        by=by,
        household=household,
        data={
            "name": name,
            "relation": "grandchild",
            "sex": sex,
            "birth_date": born,
            "id_number": make_id_number("341602", born, seq, sex),
        },
    )


@pytest.fixture
def system_user(db) -> User:
    """A county command-centre account used to build fixtures through the services."""
    return make_user("builder")


@pytest.fixture
def county(db) -> County:
    county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
    town_a = node_create(name="古井镇", level=Level.TOWN, parent=county, code="341602101")
    town_b = node_create(name="华佗镇", level=Level.TOWN, parent=county, code="341602102")
    village_a = node_create(name="王庄村", level=Level.VILLAGE, parent=town_a, level_name="村")
    village_b = node_create(name="李集村", level=Level.VILLAGE, parent=town_b, level_name="村")
    grid_a1 = node_create(name="一组", level=Level.GRID, parent=village_a, level_name="村民小组")
    grid_a2 = node_create(name="二组", level=Level.GRID, parent=village_a, level_name="村民小组")
    grid_b1 = node_create(name="一组", level=Level.GRID, parent=village_b, level_name="村民小组")
    builder = make_user("fixture_builder", Role.COMMAND_CENTRE, county)

    def household(
        node: Node, number: str, head: str, id_seq: int, phone: str
    ) -> tuple[Household, Resident]:
        hh = household_create(
            by=builder,
            node=node,
            data={
                "number": number,
                "head_name": head,
                "address": f"{node.name}{number}号",
                "phone": phone,
                "income_source": "务农",
                "income_notes": "年收入约三万",
            },
        )
        born = dt.date(1970, 3, id_seq % 28 + 1)
        res = resident_add(
            by=builder,
            household=hh,
            data={
                "name": head,
                "relation": "head",
                "sex": "M",
                "birth_date": born,
                "id_number": make_id_number("341602", born, id_seq, "M"),
                "phone": phone,
                "health_notes": "高血压",
            },
        )
        return hh, res

    hh_a1, res_a1 = household(grid_a1, "A001", "王建国", 11, "13812345678")
    hh_a2, _ = household(grid_a2, "A002", "王秀英", 12, "13912345678")
    hh_b1, res_b1 = household(grid_b1, "B001", "李德明", 13, "13712345678")
    return County(
        county,
        town_a,
        town_b,
        village_a,
        village_b,
        grid_a1,
        grid_a2,
        grid_b1,
        hh_a1,
        hh_a2,
        hh_b1,
        res_a1,
        res_b1,
    )


@pytest.fixture
def owner(county) -> User:
    return make_user("owner", Role.VILLAGE_CADRE, county.village_a)


@pytest.fixture
def member(county) -> User:
    return make_user("member", Role.GRID_WORKER, county.grid_a1)


@pytest.fixture
def outsider(county) -> User:
    return make_user("outsider", Role.VILLAGE_CADRE, county.village_b)


@pytest.fixture
def county_user(county) -> User:
    return make_user("county_user", Role.COMMAND_CENTRE, county.county)


@pytest.fixture
def auditor(county) -> User:
    return make_user("auditor", Role.AUDITOR)
