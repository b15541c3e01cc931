"""Benchmark rows of the contact network and the visit diary.

- The full assignment the demo build ran (the engine over every village, writing every link),
  and a second run with nothing changed; the load spread and the walking distance of its result
  beside a naive round-robin of the same households to the same people, computed in this run.
- Visit submission through the API on a real server (gunicorn, as deployed) beside a trivial
  authenticated API endpoint of the same server, both under the same concurrent load.
- "My households" for the demo group leader, beside the trivial logged-in page.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import User
from minqing.accounts.services import api_token_issue
from minqing.contacts import engine
from minqing.contacts.models import ContactLink, Liaison, LiaisonKind
from minqing.contacts.services import assign
from minqing.demo import contacts_measures
from minqing.demo.bench import Row, measure, refusal
from minqing.demo.builder import BuildReport
from minqing.households.models import Household
from minqing.org.models import Level, Node
from minqing.visits import selectors as visit_selectors

ASSIGN_TARGET_S = 30.0
MY_HOUSEHOLDS_TARGET_MS = 100.0
API_SHARE_TARGET = 0.5
API_CLIENTS = 8
API_REQUESTS = 400


def assignment_rows(report: BuildReport) -> list[Row]:
    run = report.network.run
    if run is None:
        return []
    result = run.result
    households = Household.objects.count()
    people = dict(
        Liaison.objects.filter(active=True).values_list("kind").annotate(n=Count("id")).order_by()
    )
    by_kind = quality()

    def spread(which: int) -> str:
        return "; ".join(
            f"{LiaisonKind(kind).label} {pair[which].describe_spread()}"
            for kind, pair in sorted(by_kind.items())
        )

    km = [sum(pair[i].km for pair in by_kind.values()) for i in (0, 1)]
    rows = [
        Row(
            f"Full assignment: {households:,} households, "
            f"{people.get(LiaisonKind.GROUP_LEADER, 0):,} group leaders, "
            f"{people.get(LiaisonKind.PARTY_MEMBER, 0):,} party members "
            f"({result.get('assigned', 0):,} links written, {len(result.get('shortages', []))} "
            "villages short)",
            f"{result.get('seconds', 0):.1f} s · load spread (max/min per village): "
            f"{spread(0)} · household–person distance {km[0]:,.0f} km",
            f"round-robin of the same households to the same people: {spread(1)} · "
            f"distance {km[1]:,.0f} km",
            f"≤ {ASSIGN_TARGET_S:.0f} s",
            result.get("seconds", 1e9) <= ASSIGN_TARGET_S,
        )
    ]
    county = Node.objects.filter(level=Level.COUNTY).first()
    assert county is not None  # the build made it: it has a run
    again = assign(node=county, by=None)
    moved = again.result.get("moved", 0) + again.result.get("assigned", 0)
    rows.append(
        Row(
            "Assignment again, nothing changed (stability)",
            f"{again.result.get('seconds', 0):.1f} s · {moved} households moved",
            "",
            "0 moved",
            moved == 0,
        )
    )
    return rows


class _Quality:
    def __init__(self) -> None:
        self.spreads: list[float] = []
        self.metres = 0.0

    def add(self, q: contacts_measures.Quality) -> None:
        if len(q.loads) > 1:
            self.spreads.append(q.spread)
        self.metres += q.metres

    @property
    def km(self) -> float:
        return self.metres / 1000

    def describe_spread(self) -> str:
        finite = [s for s in self.spreads if np.isfinite(s)]
        if not finite:
            return "—"
        return f"median {statistics.median(finite):.2f}, worst {max(finite):.2f}"


def quality() -> dict[str, tuple[_Quality, _Quality]]:
    """Per kind: the current links of each village, and a round-robin of the same households to
    the same people, as loads and household–person distances. (Group leaders lead their own
    group, so their loads follow the groups' sizes; party members show the balancing.)"""
    grid_order: dict[int, int] = {}
    for village_id in Node.objects.filter(level=Level.VILLAGE).values_list("pk", flat=True):
        grid_order[village_id] = 0
    paths = Node.objects.filter(level__in=[Level.AREA, Level.GRID]).order_by("path")
    order = {pk: i for i, pk in enumerate(paths.values_list("pk", flat=True))}
    homes = {
        pk: (node, lat, lon)
        for pk, node, lat, lon in Household.objects.values_list(
            "pk", "node_id", "latitude", "longitude"
        ).iterator(chunk_size=50_000)
    }
    people = {
        pk: (node, lat, lon)
        for pk, node, lat, lon in Liaison.objects.values_list(
            "pk", "node_id", "latitude", "longitude"
        )
    }
    groups: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for household, liaison, kind, village in (
        ContactLink.objects.current()
        .values_list("household_id", "liaison_id", "kind", "liaison__village_id")
        .iterator(chunk_size=50_000)
    ):
        groups[(village, kind)].append((household, liaison))
    result: dict[str, tuple[_Quality, _Quality]] = {}

    def f(v: Decimal | None) -> float:
        return float(v) if v is not None else np.nan

    for (_village, kind), links in groups.items():
        solved, naive = result.setdefault(kind, (_Quality(), _Quality()))
        liaisons = sorted({liaison for _h, liaison in links})
        index = {pk: i for i, pk in enumerate(liaisons)}
        hh = [homes[h] for h, _l in links]
        ll = [people[pk] for pk in liaisons]
        problem = engine.Problem(
            h_ids=np.array([h for h, _l in links]),
            h_grid=np.array([order.get(n, 0) for n, _a, _b in hh]),
            h_lat=np.array([f(a) for _n, a, _b in hh]),
            h_lon=np.array([f(b) for _n, _a, b in hh]),
            h_current=np.full(len(links), -1),
            h_match=np.zeros(len(links), dtype=np.int64),
            l_ids=np.array(liaisons),
            l_grid=np.array([order.get(n, 0) for n, _a, _b in ll]),
            l_lat=np.array([f(a) for _n, a, _b in ll]),
            l_lon=np.array([f(b) for _n, _a, b in ll]),
            l_category=np.full(len(liaisons), -1),
            l_min=np.zeros(len(liaisons), dtype=np.int64),
            l_max=np.full(len(liaisons), len(links)),
        )
        chosen = engine.Solution(np.array([index[pk] for _h, pk in links]), 0)
        solved.add(contacts_measures.quality(problem, chosen))
        naive.add(contacts_measures.quality(problem, contacts_measures.round_robin(problem)))
    return result


# --------------------------------------------------------------------------- the API


def _hammer(url: str, make: list, clients: int) -> tuple[float, dict[int, int]]:
    """Send the requests ``make`` builds from ``clients`` threads; requests/s and statuses."""
    statuses: dict[int, int] = defaultdict(int)

    def one(request: urllib.request.Request) -> int:
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
                answer.read()
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    tick = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for status in pool.map(one, make):
            statuses[status] += 1
    return len(make) / (time.perf_counter() - tick), dict(statuses)


def api_rows() -> list[Row]:
    """Visits posted to a real server beside a trivial authenticated endpoint of it."""
    from minqing.lib.testing_live import live_server

    label = (
        f"Visit submission through the API ({API_REQUESTS} new visits, {API_CLIENTS} "
        "clients, gunicorn 2 workers × 4 threads)"
    )
    if connection.in_atomic_block:
        # A server process cannot see data inside this process's open transaction.
        return [Row(label, "not measured: the data is inside a transaction", "", "", None)]
    leader = User.objects.get(username="leader")
    households = [r.id for r in visit_selectors.my_households(leader)]
    if not households:
        return []
    token = api_token_issue(user=leader, name="bench")[1]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    env = _server_env()
    connection.close()  # the server's writers must not wait for this process's connection
    with live_server(env, workers=2, threads=4) as live:
        pings = [
            urllib.request.Request(live.url + "/api/v1/me/", headers=headers)  # noqa: S310
            for _ in range(API_REQUESTS)
        ]
        now = timezone.now()
        visits = [
            urllib.request.Request(  # noqa: S310
                live.url + "/api/v1/visits/",
                data=json.dumps(
                    {
                        "client_uuid": str(uuid.uuid4()),
                        "household": households[i % len(households)],
                        "mode": "home" if i % 3 else "phone",
                        "visited_at": (now - dt.timedelta(minutes=i)).isoformat(),
                        "notes": f"基准测试走访 {i}：了解家庭近况，宣传医保政策",
                        "materials": "医保政策明白纸",
                    }
                ).encode(),
                headers=headers,
                method="POST",
            )
            for i in range(API_REQUESTS)
        ]
        _hammer(live.url, pings[:20], API_CLIENTS)  # warm-up
        ping_rate, ping_status = _hammer(live.url, pings, API_CLIENTS)
        visit_rate, visit_status = _hammer(live.url, visits, API_CLIENTS)
    share = visit_rate / ping_rate if ping_rate else 0
    reference = "GET /api/v1/me/ (trivial, authenticated) on the same server: " + (
        refusal(ping_status, {200}) or f"{ping_rate:,.0f} requests/s · answers 200×{API_REQUESTS}"
    )
    # Every visit must be a new one (201): a rate over refusals measures the refusals.
    failed = refusal(visit_status, {201}) or (
        "no figure: the reference failed" if refusal(ping_status, {200}) else ""
    )
    measured = failed or (
        f"{visit_rate:,.0f} requests/s ({share:.0%} of the reference) · answers 201×{API_REQUESTS}"
    )
    target = f"≥ {API_SHARE_TARGET:.0%} of the reference"
    return [Row(label, measured, reference, target, not failed and share >= API_SHARE_TARGET)]


def _server_env() -> dict[str, str]:
    """The server must use this process's database and key ring (the bench may have pointed
    them at a temporary data dir)."""
    from minqing.lib.testing_live import server_env

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = server_env(settings.DATA_DIR, url)
    env["MINQING_KEYRING"] = str(settings.MINQING_KEYRING)
    # Speed, not the rate limits, is measured (see bench.UNLIMITED).
    from minqing.demo.bench import UNLIMITED

    env["MINQING_RATE_LIMITS"] = ",".join(f"{n}={c}/{s}" for n, (c, s) in UNLIMITED.items())
    env["MINQING_OTP_REQUIRED_ROLES"] = ""  # its users log in without a code, as in the demo
    return env


def my_households_rows(repeat: int) -> list[Row]:
    leader = User.objects.get(username="leader")
    client = Client(raise_request_exception=False)
    client.force_login(leader)
    ref = measure(client, [reverse("bench-ping")] * repeat)
    timing = measure(client, [reverse("visits:mine")] * repeat)
    mine = visit_selectors.my_households(leader)
    visited = sum(1 for r in mine if r.last_visit)
    return [
        Row(
            f"My households · group leader ({len(mine)} households, {visited} visited)",
            timing.text(),
            f"trivial logged-in page: {ref.text()}",
            f"p95 ≤ {MY_HOUSEHOLDS_TARGET_MS:.0f} ms",
            timing.p95 <= MY_HOUSEHOLDS_TARGET_MS and not timing.status_note,
        )
    ]


def compliance_rows(repeat: int) -> list[Row]:
    """The quota report (走访频次达标) of the county for this month: its hand-built SQL beside
    the same rules by ORM conditional aggregation (the figures are checked equal by the visits
    tests); the need for the SQL shows in the ratio."""
    from collections.abc import Callable

    from minqing.visits.models import Visit
    from minqing.visits.selectors import compliance as by_sql
    from minqing.visits.tests import compliance_orm as by_orm

    county = Node.objects.filter(level=Level.COUNTY).first()
    if county is None:
        return []

    def best(report: Callable[[Node, str], object]) -> float:
        times = []
        for _ in range(max(1, min(repeat, 5))):
            tick = time.perf_counter()
            report(county, "month")
            times.append((time.perf_counter() - tick) * 1000)
        return min(times)

    by_sql.compliance(county, "month")  # warm: the county's default rules written once
    sql_ms, orm_ms = best(by_sql.compliance), best(by_orm.compliance)
    links = ContactLink.objects.filter(ended_at__isnull=True, liaison__user__isnull=False).count()
    return [
        Row(
            f"Quota report · county, this month ({Household.objects.count():,} households, "
            f"{links:,} links with an account, {Visit.objects.count():,} visits)",
            f"{sql_ms:.0f} ms (SQL)",
            f"ORM aggregation: {orm_ms:.0f} ms ({orm_ms / max(sql_ms, 0.1):.1f}×)",
            "SQL kept while it is clearly faster",
            None,
        )
    ]
