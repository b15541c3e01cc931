"""Two real worker processes sweep the same overdue issues at the same time: each issue is
escalated exactly once (docs/SECURITY-BAR.md §19).

Runs ``minqing worker --once`` twice in parallel against a real database: a SQLite file (WAL,
busy timeout, as a county server runs it) or, when the suite runs on PostgreSQL, a database of
its own on the same server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minqing.lib.testing_live import fresh_database_url, run_minqing, server_env

ISSUES = 240

SETUP = """
import datetime as dt
from django.utils import timezone
from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.issues.models import Category, Issue
from minqing.issues.services import issue_register
from minqing.org.models import Level
from minqing.org.services import node_create

county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
town = node_create(name="古井镇", level=Level.TOWN, parent=county)
village = node_create(name="王庄村", level=Level.VILLAGE, parent=town)
grid = node_create(name="一组", level=Level.GRID, parent=village)
visitor = User.objects.create_user(username="visitor", full_name="visitor")
role_assign(user=visitor, role=Role.GRID_WORKER, node=grid)
road = Category.objects.get(code="road")
for n in range(ISSUE_COUNT):
    issue_register(by=visitor, node=grid, category=road, colour="blue",
                   description=f"第{n}号路灯不亮，晚上出行不便")
past = timezone.now() - dt.timedelta(hours=1)
Issue.objects.update(due_at=past, warn_at=past - dt.timedelta(hours=1))
"""

REPORT = """
import json
from django.db.models import Count
from minqing.issues.models import Issue, IssueEvent, LateRecord
per_issue = IssueEvent.objects.filter(action="escalate").values("issue").annotate(n=Count("id"))
print(json.dumps({
    "issues": Issue.objects.count(),
    "escalate_events": sorted({row["n"] for row in per_issue}),
    "issues_escalated": per_issue.count(),
    "escalations": sorted(set(Issue.objects.values_list("escalations", flat=True))),
    "levels": sorted(set(Issue.objects.values_list("level", flat=True))),
    "late_records": LateRecord.objects.count(),
}))
"""


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    return server_env(data_dir, database_url)


_minqing = run_minqing


@pytest.fixture
def database_url():
    """None for SQLite (a file in the data dir); a fresh PostgreSQL database otherwise."""
    with fresh_database_url("minqing_sweep") as url:
        yield url


@pytest.mark.slow
def test_two_workers_at_once_escalate_each_overdue_issue_exactly_once(tmp_path, database_url):
    env = _env(tmp_path, database_url)
    _minqing(env, "migrate", "--verbosity", "0")
    _minqing(env, "shell", "-c", SETUP.replace("ISSUE_COUNT", str(ISSUES)))

    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "minqing", "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    report = json.loads(_minqing(env, "shell", "-c", REPORT).strip().splitlines()[-1])
    assert report == {
        "issues": ISSUES,
        "escalate_events": [1],  # every escalated issue has exactly one escalation event
        "issues_escalated": ISSUES,
        "escalations": [1],
        "levels": ["town"],  # village → town: one rung, not two
        "late_records": ISSUES,
    }
