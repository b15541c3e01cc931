"""``minqing bench``: build a county, time it and its busiest pages, print a Markdown table.

Every figure stands beside a reference measured in the same run on the same database, so the
table says something on any machine: the build beside a plain insert of as many rows into a
trivial table, each page beside a trivial logged-in page that only pays for the middleware.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import random
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from minqing.accounts.models import User
from minqing.demo.builder import BuildOptions, BuildReport, build_county
from minqing.demo.loader import Loader
from minqing.households.models import Household, Resident
from minqing.lib.ratelimit import DEFAULT_LIMITS
from minqing.org.models import Level, Node

BUILD_TARGET_S = 180.0
PAGE_TARGET_MS = 100.0
WARM_UP = 3
#: The bench measures speed, not the rate limits (lib/ratelimit): a few hundred searches by one
#: user in a minute would be refused (429) in production, and a figure over refusals is none.
UNLIMITED: dict[str, tuple[int, int]] = {name: (10**9, 60) for name in DEFAULT_LIMITS}


@dataclass
class Timing:
    """Latencies of one page over many requests, and the queries of one of them."""

    times_ms: list[float]
    queries: int
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        if len(self.times_ms) < 2:
            return max(self.times_ms)
        return statistics.quantiles(self.times_ms, n=20, method="inclusive")[18]

    @property
    def status_note(self) -> str:
        """Why there is no figure: some answers were not 200 (empty when all were)."""
        return refusal(self.statuses, {200})

    def text(self) -> str:
        # A latency over failed requests measures the failure, not the page: no figure.
        if self.status_note:
            return self.status_note
        return f"p50 {self.p50:.1f} ms / p95 {self.p95:.1f} ms · {self.queries} queries"


def refusal(statuses: Mapping[int, int], expected: Collection[int]) -> str:
    """ "" when every answer was an expected one; else the sentence that stands in the table
    instead of a figure: a figure computed over failed requests is not a figure."""
    bad = {code: n for code, n in statuses.items() if code not in expected}
    if not bad:
        return ""
    total = sum(statuses.values())
    wanted = " or ".join(str(c) for c in sorted(expected))
    return (
        f"no figure: {sum(bad.values()):,} of {total:,} answers were not {wanted} (HTTP "
        + ", ".join(f"{code}×{n:,}" for code, n in sorted(bad.items()))
        + ")"
    )


@dataclass
class Row:
    figure: str
    measured: str
    reference: str
    target: str
    ok: bool | None  # None: no verdict

    def cells(self) -> list[str]:
        verdict = "" if self.ok is None else ("✅" if self.ok else "⚠️")
        return [self.figure, self.measured, self.reference, self.target, verdict]


#: A request to time: a URL to GET, or a URL and the form to POST to it (searches for an ID
#: number or a phone are posted: the number never stands in a URL).
Request = str | tuple[str, dict[str, str]]


def _send(client: Client, request: Request) -> Any:
    if isinstance(request, str):
        return client.get(request, secure=True)
    url, data = request
    return client.post(url, data, secure=True)


def measure(client: Client, urls: Sequence[Request]) -> Timing:
    """Warm up, time every request once, then count the queries of the first.

    Requests say they came over HTTPS, as they do in production behind the TLS proxy.
    """
    for url in urls[:WARM_UP]:
        _send(client, url)
    times: list[float] = []
    statuses: Counter[int] = Counter()
    for url in urls:
        tick = time.perf_counter()
        response = _send(client, url)
        times.append((time.perf_counter() - tick) * 1000)
        statuses[response.status_code] += 1
    with CaptureQueriesContext(connection) as ctx:
        _send(client, urls[0])
    return Timing(times, len(ctx.captured_queries), statuses)


def reference_insert_seconds(rows: int) -> float:
    """Seconds to insert ``rows`` two-column rows the way the builder writes (then dropped)."""
    table = "demo_bench_trivial"
    quoted = connection.ops.quote_name(table)
    loader = Loader(defer_indexes=False)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {quoted}")
        cur.execute(f"CREATE TABLE {quoted} (id bigint PRIMARY KEY, v bigint NOT NULL)")
    try:
        tick = time.perf_counter()
        with transaction.atomic():
            step = 50_000
            for start in range(0, rows, step):
                loader.insert(
                    table, ("id", "v"), [(i, i) for i in range(start, min(rows, start + step))]
                )
        return time.perf_counter() - tick
    finally:
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {quoted}")


def _url(name: str, **kwargs: int) -> str | None:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


class _Samples:
    """Random objects in one user's scope, the same ones for every run of a given seed."""

    def __init__(self, seed: int, village: Node | None, repeat: int) -> None:
        self.rng = random.Random(seed)
        self.village = village
        self.n = repeat

    def _pick(self, ids: list[int]) -> list[int]:
        return self.rng.choices(ids, k=self.n) if ids else []

    def household_ids(self) -> list[int]:
        qs = Household.objects.all()
        if self.village is not None:
            return self._pick(list(qs.filter(village=self.village).values_list("id", flat=True)))
        lo, hi = _id_range(Household)
        wanted = [self.rng.randint(lo, hi) for _ in range(self.n * 2)]
        return self._pick(list(qs.filter(id__in=wanted).values_list("id", flat=True)))

    def village_ids(self) -> list[int]:
        if self.village is not None:
            return [self.village.pk] * self.n
        return self._pick(
            list(Node.objects.filter(level=Level.VILLAGE).values_list("id", flat=True))
        )

    def residents(self) -> list[Resident]:
        qs = Resident.objects.all()
        if self.village is not None:
            ids = list(qs.filter(household__village=self.village).values_list("id", flat=True))
        else:
            lo, hi = _id_range(Resident)
            wanted = [self.rng.randint(lo, hi) for _ in range(self.n * 2)]
            ids = list(qs.filter(id__in=wanted).values_list("id", flat=True))
        chosen = self._pick(ids)
        by_id = Resident.objects.in_bulk(set(chosen))
        return [by_id[i] for i in chosen]

    def households(self, ids: list[int]) -> list[Household]:
        by_id = Household.objects.in_bulk(set(ids))
        return [by_id[i] for i in ids]


def _id_range(model: type[Household] | type[Resident]) -> tuple[int, int]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT MIN(id), MAX(id) FROM {model._meta.db_table}")  # noqa: S608
        lo, hi = cur.fetchone()
    return int(lo or 0), int(hi or 0)


def _search_urls(base: str, queries: list[str]) -> list[Request]:
    return [f"{base}?{urlencode({'q': q})}" for q in queries if q]


def _search_posts(base: str, queries: list[str]) -> list[Request]:
    return [(base, {"q": q}) for q in queries if q]


def page_rows(repeat: int, seed: int) -> list[Row]:
    """Time the household page, village page and searches for the county and village users."""
    rows: list[Row] = []
    users = {u.username: u for u in User.objects.filter(username__in=["county", "village"])}
    village = Node.objects.get(role_assignments__user=users["village"])
    detail = "households:detail"
    search_base = _url("households:search") or "/households/search/"
    ping = reverse("bench-ping")
    for username, scope_village, label in (
        ("county", None, "county user"),
        ("village", village, "village cadre"),
    ):
        client = Client(raise_request_exception=False)
        client.force_login(users[username])
        samples = _Samples(seed, scope_village, repeat)
        ref = measure(client, [ping] * repeat)
        ref_text = f"trivial logged-in page: {ref.text()}"
        hh_ids = samples.household_ids()
        households = samples.households(hh_ids)
        residents = samples.residents()
        pages: list[tuple[str, list[Request]]] = [
            ("Household page", [u for i in hh_ids if (u := _url(detail, pk=i))]),
            ("Village page", [u for i in samples.village_ids() if (u := _url("org:node", pk=i))]),
            (
                "Search: name prefix",
                _search_urls(search_base, [h.head_name[:2] for h in households]),
            ),
            (
                "Search: exact ID number",
                _search_posts(
                    search_base, [r.id_number.reveal() for r in residents if r.id_number]
                ),
            ),
            (
                "Search: phone",
                _search_posts(search_base, [h.phone.reveal() for h in households if h.phone]),
            ),
        ]
        for name, urls in pages:
            if not urls:
                rows.append(Row(f"{name} · {label}", "no samples", ref_text, "", None))
                continue
            timing = measure(client, urls)
            ok = timing.p95 <= PAGE_TARGET_MS and not timing.status_note
            rows.append(
                Row(
                    f"{name} · {label}",
                    timing.text(),
                    ref_text,
                    f"p95 ≤ {PAGE_TARGET_MS:.0f} ms",
                    ok,
                )
            )
    rows += growth_rows(users["county"])
    return rows


def growth_rows(user: User) -> list[Row]:
    """The same page for the smallest and the largest object must cost the same queries."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    rows: list[Row] = []
    small = Household.objects.order_by("member_count", "id").first()
    large = Household.objects.order_by("-member_count", "id").first()
    villages = Node.objects.filter(level=Level.VILLAGE)
    v_small = villages.order_by("household_count", "id").first()
    v_large = villages.order_by("-household_count", "id").first()
    cases = [
        (
            "Household page queries",
            "households:detail",
            small,
            large,
            lambda h: f"{h.member_count} member{'' if h.member_count == 1 else 's'}",
        ),
        (
            "Village page queries",
            "org:node",
            v_small,
            v_large,
            lambda v: f"{v.household_count:,} households",
        ),
    ]
    for name, route, lo, hi, describe in cases:
        if lo is None or hi is None:
            continue
        counts: list[int | None] = []
        for obj in (lo, hi):
            url = _url(route, pk=obj.pk)
            if url is None:
                counts.append(None)
                continue
            client.get(url, secure=True)  # warm-up
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, secure=True)
            counts.append(len(ctx.captured_queries))
        if None in counts:
            continue
        rows.append(
            Row(
                f"{name}: smallest ({describe(lo)}) vs largest ({describe(hi)})",
                f"{counts[0]} vs {counts[1]}",
                "",
                "constant",
                counts[0] == counts[1],
            )
        )
    return rows


def build_rows(report: BuildReport, reference_s: float) -> list[Row]:
    """The county (households and tree), without the issue data, which has its own row."""
    network = report.phases.get("network", 0) - report.phases.get("analyze", 0)
    campaign = (
        report.phases.get("menus", 0) - report.phases.get("network", 0) if report.menus else 0
    )
    seconds = report.seconds - report.issues.seconds - network - campaign
    rate = report.rows / seconds if seconds else 0
    ref_rate = report.rows / reference_s if reference_s else 0
    return [
        Row(
            f"County build: {report.households:,} households, {report.residents:,} residents, "
            f"{report.villages:,} villages, {report.grids:,} grids ({report.rows:,} rows)",
            f"{seconds:.1f} s ({rate:,.0f} rows/s)",
            f"{reference_s:.1f} s to insert {report.rows:,} rows of (id, int) "
            f"({ref_rate:,.0f} rows/s)",
            f"≤ {BUILD_TARGET_S:.0f} s",
            seconds <= BUILD_TARGET_S,
        )
    ]


def machine_line() -> str:
    if connection.vendor == "sqlite":
        db = f"SQLite {sqlite3.sqlite_version}"  # the module Django's backend uses
    elif connection.vendor == "postgresql":
        major, minor = connection.get_database_version()  # divmod(pg_version, 10000)
        db = f"PostgreSQL {major}.{minor}"
    else:
        db = connection.display_name
    return (
        f"{timezone.localdate():%Y-%m-%d} · {os.cpu_count()} CPUs "
        f"({platform.machine()}, {platform.system()}) · Python {platform.python_version()} · "
        f"{db}"
    )


def markdown(rows: list[Row], title: str, notes: list[str]) -> str:
    header = ["Figure", "Measured", "Reference (same run)", "Target", ""]
    lines = [
        f"### {title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r.cells()) + " |" for r in rows]
    lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines)


def _audit_lock_rows() -> list[Row]:
    from minqing.demo.bench_audit import lock_rows  # the audit app's own row (no global lock)

    return lock_rows()


def _cipher_name() -> str:
    from minqing.lib.crypto import SM4_GCM, keyring

    return "SM4-GCM" if keyring().algorithm() == SM4_GCM else "AES-256-GCM"


def run_bench(options: BuildOptions, *, repeat: int, write: Callable[[str], None] = print) -> str:
    """Build, measure, and return the Markdown report."""
    write(f"Building the county ({options.size.households:,} households)…")
    # The quarterly campaign is timed as a step of its own, below.
    report = build_county(dataclasses.replace(options, campaign=False))
    write(f"Built in {report.seconds:.1f} s; measuring the reference insert…")
    reference_s = reference_insert_seconds(report.rows)
    # The issue rows build on this module's helpers, hence the import here.
    from minqing.demo import bench_contacts, bench_import, bench_issues, bench_menus

    rows = build_rows(report, reference_s) + bench_issues.issue_build_row(report, reference_s)
    for row in rows:
        write("  " + " | ".join(row.cells()))
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        (f"Timing pages ({repeat} requests each)…", lambda: page_rows(repeat, options.seed)),
        (
            "Timing the similar-issue lookup…",
            lambda: bench_issues.similarity_rows(repeat, options.seed),
        ),
        (
            "Timing the dispatch board and issue pages…",
            lambda: bench_issues.issue_page_rows(repeat, options.seed),
        ),
        ("Measuring the assignment…", lambda: bench_contacts.assignment_rows(report)),
        ("Timing visit submission through the API…", bench_contacts.api_rows),
        ("Timing visits while a ledger is imported…", bench_import.import_rows),
        ("Timing audited transactions side by side…", _audit_lock_rows),
        ("Timing my households…", lambda: bench_contacts.my_households_rows(repeat)),
        ("Timing the quota report…", lambda: bench_contacts.compliance_rows(repeat)),
        (
            "Running the quarterly campaign and timing its pages…",
            lambda: bench_menus.campaign_rows(repeat, options.seed),
        ),
        ("Sweeping deadlines…", bench_issues.sweep_rows),
    ]
    with override_settings(
        ROOT_URLCONF="minqing.demo.bench_urls",
        ALLOWED_HOSTS=hosts,
        MINQING_RATE_LIMITS=UNLIMITED,
        # Its users log in by the test client (no code to type), as in the demo.
        MINQING_OTP_REQUIRED_ROLES=frozenset(),
    ):
        for message, step in steps:
            write(message)
            found = step()
            for row in found:  # as they come: a long run shows its figures before the end
                write("  " + " | ".join(row.cells()))
            rows += found
    phases = report.phases
    if report.workers:
        making = (
            f"{report.workers} worker processes generated the rows; the writer waited "
            f"{phases.get('load_waiting_for_rows', 0):.1f} s for them and wrote for "
            f"{phases.get('load_writing', 0):.1f} s"
        )
    else:
        making = (
            f"generating the rows took {phases.get('load_waiting_for_rows', 0):.1f} s, "
            f"writing them {phases.get('load_writing', 0):.1f} s (one process)"
        )
    notes = [
        f"Build phases (elapsed at the end of each): rows loaded {phases.get('load', 0):.1f} s "
        f"({making}), indexes built {phases.get('indexes', 0):.1f} s, issue data "
        f"{phases.get('issues', 0):.1f} s, committed {phases.get('commit', 0):.1f} s, "
        f"statistics {phases.get('analyze', 0):.1f} s.",
        *bench_issues.notes(report),
        f"Pages: {repeat} requests each through django.test.Client (whole middleware stack, "
        "session saved on every request), after "
        f"{WARM_UP} warm-up requests; query counts include session and user.",
        f"ID numbers and phones are sealed with {_cipher_name()} and indexed by HMAC-SHA256 "
        "as in production (each bound to its row and column); searches match the keyed hash, "
        "and those for an ID number or a phone are posted. Rate limits are lifted while "
        "measuring.",
    ]
    title = f"Minqing benchmark — {machine_line()}"
    return markdown(rows, title, notes)
