"""Answers synced at the same moment by several phones keep the counters exact.

Four ``minqing shell`` processes (four database connections) on a fresh database — a SQLite
file, or a PostgreSQL database of its own — each send the answers of half of one village's
households in batches of three, all starting together; a third of them say the water is not
right, so they raise and join the village's issue at the same time. Afterwards the live
progress of every node equals a count of the tasks, and the county's row says 27 of 27.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from minqing.lib.testing_live import fresh_database_url, run_minqing, server_env, shell_json

pytestmark = [pytest.mark.live, pytest.mark.slow]

SETUP = """
import datetime as dt, json
from django.utils import timezone
from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.households.services import household_create
from minqing.issues.models import Category
from minqing.menus.services import authoring, campaigns
from minqing.menus.services.authoring import IssueRule
from minqing.menus.tests.conftest import _checklists
from minqing.org.models import Department, Level
from minqing.org.services import node_create

county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
town = node_create(name="古井镇", level=Level.TOWN, parent=county, code="341602101")
organiser = make_user("organiser", Role.COMMAND_CENTRE, county)
mk = Department.objects.create
water = mk(county=county, name="区水利局", code="water")
health = mk(county=county, name="区卫健委", code="health")
civil = mk(county=county, name="区民政局", code="civil")
lists = _checklists(organiser, water, health, civil)
for c in lists:
    authoring.checklist_submit(by=organiser, checklist=c)
menu = authoring.menu_create(by=organiser, county=county, year=2027, quarter=1)
version = menu.versions.get()
groups = [list(p.question_ids) for p in authoring.duplicate_proposals(lists)]
authoring.menu_merge(by=organiser, version=version, checklists=list(lists), groups=groups)
q = version.questions.get(name="water_ok")
authoring.version_question_save(
    by=organiser, version=version, question=q, spec=q.to_spec(),
    departments=list(q.departments.all()),
    rule=IssueRule(on=["no"], category=Category.objects.get(code="drinking_water"),
                   department=water, colour="yellow"),
)
authoring.version_approve(by=organiser, version=version)
authoring.version_publish(by=organiser, version=version)
leaders = {}
for v, name in enumerate(("王庄村", "李集村")):
    village = node_create(name=name, level=Level.VILLAGE, parent=town)
    grid = node_create(name="一组", level=Level.GRID, parent=village)
    leader = make_user(f"leader{v}", Role.GROUP_LEADER, village)
    liaison = liaison_add(by=organiser, node=grid, kind=LiaisonKind.GROUP_LEADER, user=leader,
                          name=leader.username, phone="13800000000")
    for i in range(13 + v):
        hh = household_create(by=organiser, node=grid,
                              data={"number": f"{v}{i:03d}", "head_name": f"户主{v}{i}"})
        link_set(by=organiser, household=hh, liaison=liaison)
    leaders[leader.username] = leader
version.refresh_from_db()
today = timezone.localdate()
campaign = campaigns.campaign_start(by=organiser, version=version, scope=county,
                                    starts_on=today - dt.timedelta(days=1),
                                    ends_on=today + dt.timedelta(days=13))
tasks = {name: list(campaign.tasks.filter(assignee=u).order_by("pk").values_list("pk", flat=True))
         for name, u in leaders.items()}
print(json.dumps({"campaign": campaign.pk, "version": version.pk, "tasks": tasks}))
"""

#: One phone: waits until all four have started, then sends its records in batches of three.
PHONE = """
import datetime as dt, json, os, time, uuid
from pathlib import Path
from django.utils import timezone
from minqing.accounts.models import User
from minqing.menus.services.answers import AnswerInput, answers_record

barrier = Path(BARRIER)
(barrier / str(os.getpid())).touch()
deadline = time.monotonic() + 30
while len(list(barrier.iterdir())) < 4 and time.monotonic() < deadline:
    time.sleep(0.02)
leader = User.objects.get(username=USERNAME)
now = timezone.now()
records = [
    AnswerInput(client_uuid=uuid.uuid4(), task_id=t, version_id=VERSION, outcome="home",
                finished_at=now - dt.timedelta(minutes=1),
                started_at=now - dt.timedelta(minutes=9),
                answers={"water_ok": "no" if t % 3 == 0 else "yes", "insured": "yes",
                         "health": "fair", "well_depth": 12})
    for t in TASKS
]
statuses = []
for i in range(0, len(records), 3):
    statuses += [r.status for r in answers_record(by=leader, records=records[i:i + 3])]
print(json.dumps(statuses))
"""

CHECK = """
import json
from minqing.menus.models import Campaign, Progress, RaisedIssue
from minqing.menus.services.campaigns import progress_differences
campaign = Campaign.objects.get(pk=CAMPAIGN)
row = Progress.objects.get(campaign=campaign, node=campaign.scope)
raised = RaisedIssue.objects.filter(campaign=campaign)
issues = sorted(set(raised.values_list("village_id", "issue_id")))
print(json.dumps({"diff": {str(k): v for k, v in progress_differences(campaign).items()},
                  "county": [row.total, row.home, row.issues], "issues": issues}))
"""


def test_four_phones_at_once_keep_the_counters_exact(tmp_path):
    with fresh_database_url("menus_conc") as database_url:
        env = server_env(tmp_path, database_url)
        run_minqing(env, "migrate", "--verbosity", "0")
        data = shell_json(env, SETUP)
        barrier = tmp_path / "barrier"
        barrier.mkdir()
        phones = []
        for username, tasks in data["tasks"].items():
            for part in (tasks[0::2], tasks[1::2]):
                script = (
                    PHONE.replace("BARRIER", repr(str(barrier)))
                    .replace("USERNAME", repr(username))
                    .replace("VERSION", str(data["version"]))
                    .replace("TASKS", repr(part))
                )
                phones.append(
                    subprocess.Popen(  # noqa: S603 - our own interpreter and command
                        [sys.executable, "-m", "minqing", "shell", "-c", script],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
        outputs = [p.communicate(timeout=300) for p in phones]
        assert [p.returncode for p in phones] == [0, 0, 0, 0], [e for _o, e in outputs]
        statuses = [s for out, _e in outputs for s in json.loads(out.splitlines()[-1])]
        assert statuses == ["saved"] * 27
        check = shell_json(env, CHECK.replace("CAMPAIGN", str(data["campaign"])))
    assert check["diff"] == {}
    # one issue per village (the later households joined it), counted once each
    assert len({village for village, _issue in check["issues"]}) == 2
    assert len({issue for _village, issue in check["issues"]}) == 2
    assert check["county"] == [27, 27, 2]
