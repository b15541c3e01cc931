"""The phone's API (/api/v1/menus/): a batch of answers, one phone try, my open tasks — with a
bearer token or the session and its CSRF token, replay-safe by the phone's client id."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from django.utils import translation

from minqing.accounts.services import api_token_issue
from minqing.issues.models import Issue
from minqing.menus.models import CallAttempt, Response, Task
from minqing.menus.services import authoring
from minqing.menus.services.answers import MAX_BATCH
from minqing.tests.dbstate import nothing_written

STARTED = "2027-02-22T09:50:00+08:00"
FINISHED = "2027-02-22T09:58:00+08:00"


@pytest.fixture
def api(client, menus):
    class Api:
        def __init__(self) -> None:
            self.as_user(menus.leader)

        def as_user(self, user) -> Api:
            self.headers = {
                "Authorization": f"Bearer {api_token_issue(user=user)[1]}",
                "Accept-Language": "zh-hans",
            }
            self.get("tasks/")  # the token's first use is written (the clock stands still)
            return self

        def get(self, path: str):
            return client.get(f"/api/v1/menus/{path}", headers=self.headers)

        def post(self, path: str, body: object):
            return client.post(
                f"/api/v1/menus/{path}",
                data=json.dumps(body),
                content_type="application/json",
                headers=self.headers,
            )

    return Api()


def _task(menus, household) -> Task:
    return Task.objects.get(campaign=menus.campaign, household=household)


def _record(task, version, **kw) -> dict:
    base = {
        "client_uuid": str(uuid.uuid4()),
        "task": task.pk,
        "version": version.pk,
        "outcome": "home",
        "answers": {"water_ok": "yes", "insured": "yes", "health": "good", "well_depth": 20},
        "started_at": STARTED,
        "finished_at": FINISHED,
    }
    return base | kw


def test_a_record_is_saved_with_its_answers_and_the_issue_it_raises(api, menus, county):
    task = _task(menus, county.household_a1)
    record = _record(
        task,
        menus.version,
        answers={"water_ok": "no", "insured": "yes", "health": "fair", "well_depth": "35"},
    )
    answer = api.post("answers/", {"records": [record]})
    assert answer.status_code == 200
    saved = Response.objects.get()
    issue = Issue.objects.get()
    assert answer.json() == [
        {
            "client_uuid": record["client_uuid"],
            "status": "saved",
            "code": "",
            "errors": {},
            "response": saved.pk,
            "issues": [issue.pk],
        }
    ]
    assert str(saved.client_uuid) == record["client_uuid"]
    assert (saved.task_id, saved.version_id, saved.visitor_id, saved.entered_by_id) == (
        task.pk,
        menus.version.pk,
        menus.leader.pk,
        menus.leader.pk,
    )
    assert saved.answers == {"water_ok": "no", "insured": "yes", "health": "fair", "well_depth": 35}
    assert (saved.outcome, saved.reason, saved.paper, saved.too_fast) == ("home", "", False, False)
    assert saved.started_at.isoformat() == "2027-02-22T01:50:00+00:00"
    assert saved.finished_at.isoformat() == "2027-02-22T01:58:00+00:00"
    task.refresh_from_db()
    assert task.outcome == "home"
    assert issue.description == "饮水是否正常？：否"


def test_a_replay_answers_replay_and_writes_nothing(api, menus, county):
    task = _task(menus, county.household_a1)
    record = _record(task, menus.version)
    [first] = api.post("answers/", {"records": [record]}).json()
    assert first["status"] == "saved"
    with nothing_written():
        answer = api.post("answers/", {"records": [record, record]})
    assert answer.status_code == 200
    assert (
        answer.json()
        == [
            {
                "client_uuid": record["client_uuid"],
                "status": "replay",
                "code": "",
                "errors": {},
                "response": first["response"],
                "issues": [],
            }
        ]
        * 2
    )
    assert Response.objects.count() == 1


def test_the_same_id_with_other_answers_is_a_conflict(api, menus, county):
    task = _task(menus, county.household_a1)
    record = _record(task, menus.version)
    api.post("answers/", {"records": [record]})
    changed = record | {"answers": record["answers"] | {"health": "bad"}}
    with nothing_written():
        [result] = api.post("answers/", {"records": [changed]}).json()
    assert result == {
        "client_uuid": record["client_uuid"],
        "status": "conflict",
        "code": "menus.duplicate",
        "errors": {"client_uuid": "这个编号下已保存了另一条记录。"},
        "response": None,
        "issues": [],
    }
    assert Response.objects.get().answers["health"] == "good"


def test_a_task_of_another_visitor_is_not_found_and_nothing_is_written(api, menus, county):
    other = _task(menus, county.household_b1)  # leader_b's household
    record = _record(other, menus.version)
    with nothing_written():
        [result] = api.post("answers/", {"records": [record]}).json()
    assert (result["status"], result["code"]) == ("not_found", "menus.not_your_task")
    assert result["errors"] == {"task": "本次走访中，这户不归您联系。"}
    with nothing_written():
        call = api.post(
            "calls/",
            {"client_uuid": str(uuid.uuid4()), "task": other.pk, "at": FINISHED, "result": "busy"},
        )
    assert call.json()["status"] == "not_found"


def test_a_wrong_answer_is_refused_naming_the_question_and_the_others_are_saved(api, menus, county):
    a1, a2 = _task(menus, county.household_a1), _task(menus, county.household_a2)
    Task.objects.filter(pk=a2.pk).update(place_kind="urban")  # no well question in town
    wrong_type = _record(a1, menus.version, answers={"water_ok": "yes", "well_depth": "deep"})
    not_asked = _record(a2, menus.version, answers={"water_ok": "yes", "well_depth": 12})
    unknown = _record(a2, menus.version, answers={"water_ok": "yes", "colour": "red"})
    fine = _record(a2, menus.version, answers={"water_ok": "yes", "health": "good"})
    results = api.post("answers/", {"records": [wrong_type, not_asked, unknown, fine]}).json()
    assert [(r["status"], r["code"], r["errors"]) for r in results] == [
        ("refused", "menus.answers", {"answers.well_depth": "请填写整数。"}),
        ("refused", "menus.answers", {"answers.well_depth": "本版问卷中没有这道题。"}),
        ("refused", "menus.answers", {"answers.colour": "本版问卷中没有这道题。"}),
        ("saved", "", {}),
    ]
    assert list(Response.objects.values_list("task_id", "answers")) == [
        (a2.pk, {"water_ok": "yes", "health": "good"})
    ]


def test_a_refused_record_writes_nothing(api, menus, county):
    task = _task(menus, county.household_a1)
    record = _record(task, menus.version, answers={"water_ok": "maybe"})
    with nothing_written():
        [result] = api.post("answers/", {"records": [record]}).json()
    assert result["status"] == "refused"
    assert result["errors"] == {"answers.water_ok": "请从选项中选一个：yes, no。"}


def test_answers_to_a_replaced_version_are_checked_against_their_own_version(api, menus, county):
    nxt = authoring.version_next(by=menus.organiser, version=menus.version)
    authoring.version_question_delete(
        by=menus.organiser, question=nxt.questions.get(name="well_depth")
    )
    authoring.version_approve(by=menus.organiser, version=nxt)
    authoring.version_publish(by=menus.organiser, version=nxt)
    a1, a2 = _task(menus, county.household_a1), _task(menus, county.household_a2)
    old = _record(a1, menus.version)  # made offline with the first version: the well is in it
    new = _record(a2, nxt)
    [r_old, r_new] = api.post("answers/", {"records": [old, new]}).json()
    assert (r_old["status"], r_new["status"]) == ("saved", "refused")
    assert r_new["errors"] == {"answers.well_depth": "本版问卷中没有这道题。"}
    saved = Response.objects.get()
    assert (saved.task_id, saved.version_id, saved.answers["well_depth"]) == (
        a1.pk,
        menus.version.pk,
        20,
    )
    [tasks] = [t for t in api.get("tasks/").json() if t["id"] == a2.pk]
    assert tasks["version"] == nxt.pk


def test_a_batch_over_the_limit_is_refused_and_nothing_is_written(api, menus, county):
    task = _task(menus, county.household_a1)
    records = [_record(task, menus.version) for _ in range(MAX_BATCH + 1)]
    with nothing_written():
        answer = api.post("answers/", {"records": records})
    assert answer.status_code == 400
    body = answer.json()
    with translation.override("zh-hans"):  # a new message: its Chinese once the catalogue has it
        said = translation.gettext("At most %(n)d records in one batch.") % {"n": MAX_BATCH}
    assert body["errors"] == {"records": [said]}


def test_phone_tries_up_to_the_campaigns_limit(api, menus, county):
    task = _task(menus, county.household_a1)
    assert menus.campaign.call_limit == 3
    ids = [str(uuid.uuid4()) for _ in range(4)]
    for i, result in enumerate(["no_answer", "busy", "wrong_number"]):
        answer = api.post(
            "calls/", {"client_uuid": ids[i], "task": task.pk, "at": FINISHED, "result": result}
        )
        assert answer.status_code == 200
        assert answer.json() == {
            "client_uuid": ids[i],
            "status": "saved",
            "code": "",
            "errors": {},
            "response": None,
            "issues": [],
        }
    with nothing_written():  # a resent try changes nothing
        again = api.post(
            "calls/",
            {"client_uuid": ids[0], "task": task.pk, "at": FINISHED, "result": "no_answer"},
        )
    assert again.json()["status"] == "replay"
    with nothing_written():
        fourth = api.post(
            "calls/", {"client_uuid": ids[3], "task": task.pk, "at": FINISHED, "result": "busy"}
        )
    assert fourth.json() == {
        "client_uuid": ids[3],
        "status": "refused",
        "code": "menus.call_limit",
        "errors": {"task": "已联系3次：请将这户登记为未联系上，并说明原因。"},
        "response": None,
        "issues": [],
    }
    task.refresh_from_db()
    assert task.call_attempts == 3
    assert sorted(CallAttempt.objects.values_list("result", flat=True)) == [
        "busy",
        "no_answer",
        "wrong_number",
    ]


def test_my_tasks_list_the_open_ones_first(api, menus, county):
    a1, a2 = _task(menus, county.household_a1), _task(menus, county.household_a2)
    api.post("answers/", {"records": [_record(a1, menus.version)]})
    answer = api.get("tasks/")
    assert answer.status_code == 200
    base = {
        "campaign": menus.campaign.pk,
        "campaign_title": menus.campaign.title,
        "kind": "rural",
        "version": menus.version.pk,
        "call_attempts": 0,
        "call_limit": 3,
    }
    assert answer.json() == [
        base
        | {
            "id": a2.pk,
            "household": county.household_a2.pk,
            "number": "A002",
            "head_name": "王秀英",
            "grid": "二组",
            "outcome": "",
        },
        base
        | {
            "id": a1.pk,
            "household": county.household_a1.pk,
            "number": "A001",
            "head_name": "王建国",
            "grid": "一组",
            "outcome": "home",
        },
    ]
    assert api.as_user(menus.leader_b).get("tasks/").json()[0]["number"] == "B001"


@pytest.mark.parametrize(
    ("method", "path"), [("post", "answers/"), ("post", "calls/"), ("get", "tasks/")]
)
def test_without_credentials_the_answer_is_401(client, menus, method, path):
    with nothing_written():
        answer = getattr(client, method)(
            f"/api/v1/menus/{path}",
            data="{}" if method == "post" else None,
            content_type="application/json",
        )
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"


def test_the_session_needs_its_csrf_token(menus, county):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(menus.leader)
    task = _task(menus, county.household_a1)
    body = json.dumps({"records": [_record(task, menus.version)]})
    with nothing_written():
        refused = browser.post("/api/v1/menus/answers/", body, content_type="application/json")
    assert refused.status_code in (401, 403)
    token = browser.get("/visits/token/").json()["csrf"]
    answer = browser.post(
        "/api/v1/menus/answers/",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 200
    assert answer.json()[0]["status"] == "saved"
