"""Time the similar-issue lookup at county scale, beside the brute-force scan it replaces.

``bench_similarity`` needs a migrated database and nothing else: it builds its own minimal tree
(a new root county "相似度基准区…" with ``towns`` towns of ``villages_per_town`` villages), fills
it with ``n_issues`` open issues from ``issue_texts.fake_issue_texts``, indexes them with
``index_issues_bulk``, times ``lookups`` lookups (a fresh text, a random village) and a few
brute-force lookups of the same texts, then deletes everything it made unless ``keep``. It can
run beside the demo county: it touches no other rows. Call it outside a transaction: it
commits its data and runs VACUUM ANALYZE on PostgreSQL (ANALYZE on SQLite) before timing, as
autovacuum would have done on a live database.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from minqing.demo.issue_texts import fake_issue_texts
from minqing.demo.similarity_reference import Lookup, similar_issues_bruteforce
from minqing.issues.models import Category, Colour, Issue, IssueTerm, Level, Source, Status
from minqing.issues.similarity import index_issues_bulk, similar_issues
from minqing.org.models import Level as NodeLevel
from minqing.org.models import Node
from minqing.org.services import node_create

TARGET_P95_MS = 50.0


def _percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _build_tree(towns: int, villages_per_town: int) -> tuple[Node, list[Node]]:
    county = node_create(name=f"相似度基准区{uuid.uuid4().hex[:6]}", level=NodeLevel.COUNTY)
    villages = []
    for t in range(towns):
        town = node_create(name=f"基准{t + 1}镇", level=NodeLevel.TOWN, parent=county)
        for v in range(villages_per_town):
            villages.append(
                node_create(name=f"基准{t + 1}-{v + 1}村", level=NodeLevel.VILLAGE, parent=town)
            )
    return county, villages


def _analyze() -> None:
    tables = [Issue._meta.db_table, IssueTerm._meta.db_table]
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                # VACUUM sets the visibility map, so the postings are read index-only.
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
            else:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def bench_similarity(
    n_issues: int = 100_000,
    lookups: int = 200,
    *,
    towns: int = 20,
    villages_per_town: int = 14,
    bruteforce_lookups: int = 10,
    seed: int = 7,
    keep: bool = False,
) -> dict:
    """Build, index and time; returns the figures (milliseconds and seconds) as a dict."""
    rng = random.Random(seed)  # noqa: S311 - reproducible made-up data
    categories = {c.code: c.pk for c in Category.objects.all()}
    county, villages = _build_tree(towns, villages_per_town)
    result: dict = {"database": connection.vendor, "issues": n_issues, "villages": len(villages)}
    try:
        started = time.perf_counter()
        with transaction.atomic():
            texts = fake_issue_texts(rng, n_issues)
            for start in range(0, n_issues, 5000):
                Issue.objects.bulk_create(
                    Issue(
                        source=Source.VISIT,
                        node=village,
                        village=village,
                        town_id=village.parent_id,
                        node_path=village.path,
                        category_id=categories[code],
                        colour=Colour.BLUE,
                        level=Level.VILLAGE,
                        status=Status.REGISTERED,
                        title=title,
                        description=description,
                    )
                    for (code, title, description), village in zip(
                        texts[start : start + 5000],
                        rng.choices(villages, k=len(texts[start : start + 5000])),
                        strict=True,
                    )
                )
        result["issues_insert_s"] = round(time.perf_counter() - started, 1)

        started = time.perf_counter()
        issues = (
            Issue.objects.filter(town__parent=county)
            .order_by()
            .only("id", "title", "description", "status", "town_id", "village_id")
            .iterator(chunk_size=5000)
        )
        result["index_rows"] = index_issues_bulk(issues, batch_size=5000)
        result["index_s"] = round(time.perf_counter() - started, 1)
        _analyze()

        queries: list[Lookup] = []
        for code, title, description in fake_issue_texts(random.Random(seed + 1), lookups):  # noqa: S311
            village = rng.choice(villages)
            assert village.parent_id is not None  # made under a town by _build_tree
            queries.append(
                {
                    "text": f"{title}\n{description}",
                    "category_id": categories[code],
                    "village_id": village.pk,
                    "town_id": village.parent_id,
                }
            )
        for query in queries[:3]:  # warm the caches
            similar_issues(**query)
        times = []
        sql_count = 0
        for query in queries:
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                similar_issues(**query)
                times.append((time.perf_counter() - started) * 1000)
            sql_count = max(sql_count, len(ctx.captured_queries))
        result.update(
            lookup_p50_ms=round(statistics.median(times), 1),
            lookup_p95_ms=round(_percentile(times, 95), 1),
            lookup_max_ms=round(max(times), 1),
            lookup_queries=sql_count,
            target_p95_ms=TARGET_P95_MS,
        )

        brute_times = []
        same = 0
        for query in queries[:bruteforce_lookups]:
            started = time.perf_counter()
            reference = similar_issues_bruteforce(**query)
            brute_times.append((time.perf_counter() - started) * 1000)
            same += reference == similar_issues(**query)
        result.update(
            bruteforce_p50_ms=round(statistics.median(brute_times), 1),
            bruteforce_lookups=len(brute_times),
            bruteforce_same_results=same,
        )
    finally:
        if not keep:
            _remove(county)
    return result


def _remove(county: Node) -> None:
    """Delete the made-up county; its issues have no reporters, events or other rows, so a
    plain DELETE does (the ORM's collector would look for them 100,000 times over)."""
    issue_table = connection.ops.quote_name(Issue._meta.db_table)
    with transaction.atomic():
        towns = list(Node.objects.filter(parent=county).values_list("id", flat=True))
        IssueTerm.objects.filter(town_id_value__in=towns).delete()
        marks = ", ".join(["%s"] * len(towns))
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {issue_table} WHERE town_id IN ({marks})", towns)  # noqa: S608
        Node.objects.filter(parent__parent=county).delete()
        Node.objects.filter(parent=county).delete()
        county.delete()
