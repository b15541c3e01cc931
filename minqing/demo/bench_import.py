"""Benchmark row: other users' writes while a large ledger is imported (none may fail).

A real server (gunicorn, as deployed) takes visits through the API from a few clients while
``minqing import_ledger`` writes a 24,000-row ledger into one village in another process; the
same visits with no import running are the reference, measured in the same run on the same
server. The figure is the visits' latency and how many failed: none may ("database is locked"
was a 500 before the import wrote in short batches).
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django.db import connection
from django.utils import timezone

from minqing.accounts.models import Role, User
from minqing.accounts.services import api_token_issue
from minqing.demo.bench import Row
from minqing.org.models import Level, Node
from minqing.visits import selectors as visit_selectors

IMPORT_ROWS = 24_000
#: A small county (the bench's own test builds 30 households) imports a small ledger.
SMALL_COUNTY = 10_000
SMALL_IMPORT_ROWS = 2_000
CLIENTS = 4
P95_TARGET_MS = 1000.0


def _p95(times: list[float]) -> float:
    if len(times) < 2:
        return max(times, default=0.0)
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def _post(url: str, token: str, household: int, n: int) -> tuple[int, float]:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household": household,
        "mode": "home",
        "visited_at": (timezone.now() - dt.timedelta(minutes=n % 600)).isoformat(),
        "notes": f"基准测试：导入期间的走访 {n}",
    }
    request = urllib.request.Request(  # noqa: S310 - the bench's own server
        url + "/api/v1/visits/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    tick = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, (time.perf_counter() - tick) * 1000


def _posts(url: str, token: str, households: list[int], keep_going, count: int | None) -> list:
    """Visits from ``CLIENTS`` threads while ``keep_going()`` (or ``count`` of them)."""
    answers: list[tuple[int, float]] = []
    lock = threading.Lock()
    sent = [0]

    def client(k: int) -> None:
        while keep_going():
            with lock:
                if count is not None and sent[0] >= count:
                    return
                sent[0] += 1
                n = sent[0]
            answer = _post(url, token, households[n % len(households)], n)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _describe(answers: list[tuple[int, float]]) -> tuple[str, int]:
    times = [ms for _status, ms in answers]
    failed = sum(1 for status, _ms in answers if status != 201)
    return (
        f"{len(answers):,} visits: p50 {statistics.median(times):.0f} ms / p95 "
        f"{_p95(times):.0f} ms / max {max(times):.0f} ms, {failed} failed",
        failed,
    )


def import_rows(rows: int | None = None) -> list[Row]:
    from minqing.demo.bench_contacts import _server_env
    from minqing.households.models import Household
    from minqing.households.tests.ledger_helpers import csv_bytes, make_ledger
    from minqing.lib.testing_live import live_server

    if rows is None:
        small = Household.objects.count() < SMALL_COUNTY
        rows = SMALL_IMPORT_ROWS if small else IMPORT_ROWS

    label = f"Visits through the API while a {rows:,}-row ledger is imported ({CLIENTS} clients)"
    if connection.in_atomic_block:
        return [Row(label, "not measured: the data is inside a transaction", "", "", None)]
    leader = User.objects.get(username="leader")
    households = [r.id for r in visit_selectors.my_households(leader)]
    cadre = User.objects.filter(username="village", roles__role=Role.VILLAGE_CADRE).first()
    if not households or cadre is None:
        return []
    village = Node.objects.get(role_assignments__user=cadre, level=Level.VILLAGE)
    grids = tuple(
        Node.objects.filter(parent=village).order_by("id").values_list("name", flat=True)[:2]
    )
    token = api_token_issue(user=leader, name="bench-import")[1]
    # Its own region code and household numbers: new households, none clashing with the demo's.
    ledger = make_ledger(
        rows, village=village.name, grids=grids, prefix="BENCH", day_step=1, region="110101"
    )
    folder = Path(tempfile.mkdtemp(prefix="minqing-bench-import-"))
    path = folder / "台账.csv"
    path.write_bytes(csv_bytes(ledger.rows))
    env = _server_env()
    connection.close()
    with live_server(env, workers=2, threads=4) as live:
        reference = _posts(live.url, token, households, lambda: True, 200)
        started = time.perf_counter()
        importer = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "minqing", "import_ledger", str(path), "--valid-only"]
            + ["--node", str(village.pk), "--user", cadre.username],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        during = _posts(live.url, token, households, lambda: importer.poll() is None, None)
        out, err = importer.communicate(timeout=3600)
        seconds = time.perf_counter() - started
    path.unlink(missing_ok=True)
    folder.rmdir()
    from minqing.households.models import LedgerImport

    done = LedgerImport.objects.filter(user=cadre).order_by("-id").first()
    progress = (done.report.get("progress") or {}) if done else {}
    if importer.returncode != 0 or not during:
        why = (err or out).strip().splitlines()[-1:] or ["no visit was sent during it"]
        return [Row(label, f"no figure: the import failed ({why[0]})", "", "", False)]
    measured, failed = _describe(during)
    held = progress.get("held_s") or [0.0]
    measured += (
        f" · import {seconds:.0f} s in {progress.get('batches_done', 0)} transactions, "
        f"each holding the write lock median {statistics.median(held):.2f} s / longest "
        f"{progress.get('longest_batch_s', 0):.2f} s"
    )
    ref_text, ref_failed = _describe(reference)
    p95 = _p95([ms for _s, ms in during])
    return [
        Row(
            label,
            measured,
            f"the same visits with no import: {ref_text}",
            f"0 failed, p95 ≤ {P95_TARGET_MS:.0f} ms",
            failed == 0 and ref_failed == 0 and p95 <= P95_TARGET_MS,
        )
    ]
