"""Two first readers of a county's quotas at the same moment write one set of defaults.

Two real ``minqing shell`` processes (two database connections) on a fresh database — a SQLite
file, or a PostgreSQL database of its own — each read the county's rules, find none, and are
held until the other has read too, so both write the defaults.
The unique constraint on a rule's sameness makes the second set no-ops.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import IntegrityError, transaction

from minqing.lib.testing_live import fresh_database_url, run_minqing, server_env, shell_json
from minqing.visits.models import QuotaRule
from minqing.visits.services import cadence, quotas

SETUP = """
import json
from minqing.org.models import Level
from minqing.org.services import node_create
county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
print(json.dumps({"county": county.pk}))
"""

#: Read the quotas, held after the first read of the quota table until the other process has
#: read too (or 20 s passed): both have found "no rules" before either writes.
READER = """
import os, time
from pathlib import Path
from django.db import connection
from minqing.org.models import Node
from minqing.visits.services import cadence, quotas

barrier = Path(BARRIER)
held = []

def hold(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if not held and sql.lstrip().upper().startswith("SELECT") and "visits_quotarule" in sql:
        held.append(1)
        (barrier / str(os.getpid())).touch()
        deadline = time.monotonic() + 20
        while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    return result

with connection.execute_wrapper(hold):
    rules = cadence.quotas_for(Node.objects.get(pk=COUNTY))
print(sum(len(r) for r in rules.values()))
"""

COUNT = """
import json
from minqing.visits.models import QuotaRule
print(json.dumps(sorted(QuotaRule.objects.values_list("kind", "period", "home_only"))))
"""


@pytest.mark.slow
def test_two_first_readers_at_once_write_the_default_quotas_once(tmp_path):
    with fresh_database_url("minqing_quotas") as database_url:
        env = server_env(tmp_path, database_url)
        run_minqing(env, "migrate", "--verbosity", "0")
        county = shell_json(env, SETUP)["county"]
        barrier = tmp_path / "barrier"
        barrier.mkdir()
        script = READER.replace("BARRIER", repr(str(barrier))).replace("COUNTY", str(county))
        readers = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and command
                [sys.executable, "-m", "minqing", "shell", "-c", script],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [reader.communicate(timeout=120) for reader in readers]
        assert [r.returncode for r in readers] == [0, 0], outputs
        assert len(list(barrier.iterdir())) == 2  # both read before either wrote
        # Each reader sees the one set of five default rules.
        assert [out.strip().splitlines()[-1] for out, _err in outputs] == ["5", "5"]
        assert shell_json(env, COUNT) == [
            ["cadre", "month", True],
            ["cadre", "week", False],
            ["group_leader", "month", False],
            ["party_member", "month", False],
            ["representative", "week", False],
        ]


def test_a_second_rule_saying_the_same_is_refused_by_the_database(county):
    cadence.quotas_for(county.county)
    cadence.quotas_for(county.county)
    assert QuotaRule.objects.count() == 5
    rule = QuotaRule.objects.get(kind="representative")
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaRule.objects.create(
            county=county.county,
            kind=rule.kind,
            period=rule.period,
            per_household=rule.per_household,
            home_only=rule.home_only,
            count=3,
        )


def test_two_rules_may_swap_what_they_say_in_one_save(county, county_user):
    cadence.quotas_for(county.county)
    monthly = QuotaRule.objects.get(kind="cadre", period="month")
    weekly = QuotaRule.objects.get(kind="cadre", period="week")
    rows = {
        f"r{r.pk}": {
            "id": r.pk,
            "kind": r.kind,
            "period": r.period,
            "count": r.count,
            "per_household": r.per_household,
            "home_only": r.home_only,
            "active": r.active,
            "delete": False,
        }
        for r in QuotaRule.objects.all()
    }
    rows[f"r{monthly.pk}"] |= {"period": "week", "home_only": False}
    rows[f"r{weekly.pk}"] |= {"period": "month", "home_only": True, "count": 2}
    changes = quotas.quotas_save(by=county_user, county=county.county, rows=rows)
    assert len(changes) == 2
    monthly.refresh_from_db()
    weekly.refresh_from_db()
    assert (monthly.kind, monthly.period, monthly.home_only) == ("cadre", "week", False)
    assert (weekly.kind, weekly.period, weekly.home_only, weekly.count) == (
        "cadre",
        "month",
        True,
        2,
    )
