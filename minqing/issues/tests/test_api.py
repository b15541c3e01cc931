"""Issues through the REST API: token auth, registration with similar candidates, transitions,
refusals with the right status and nothing changed."""

from __future__ import annotations

import json

import pytest

from minqing.accounts.services import api_token_issue
from minqing.issues.models import Issue, IssueEvent, Status
from minqing.issues.services import issue_register


def _token(user) -> str:
    return api_token_issue(user=user)[1]


@pytest.fixture
def api(client):
    """POST/GET JSON with a user's bearer token."""

    class Api:
        def __init__(self) -> None:
            self.headers: dict[str, str] = {}

        def as_user(self, user) -> Api:
            self.headers = {"Authorization": f"Bearer {_token(user)}"}
            return self

        def get(self, path: str):
            return client.get(f"/api/v1/{path}", headers=self.headers)

        def post(self, path: str, body: dict):
            return client.post(
                f"/api/v1/{path}",
                data=json.dumps(body),
                content_type="application/json",
                headers=self.headers,
            )

    return Api()


def test_register_returns_the_issue_with_ranked_similar_candidates(
    api, county, member, irrigation, clock
):
    first = issue_register(
        by=member,
        node=county.grid_a1,
        category=irrigation,
        description="村东头的灌溉水渠破了，水流不到地里",
        colour="yellow",
    )
    issue_register(
        by=member, node=county.grid_a1, category=irrigation, description="路灯坏了", colour="blue"
    )
    response = api.as_user(member).post(
        "issues/",
        {
            "node": county.grid_a1.pk,
            "household": county.household_a1.pk,
            "category": "irrigation",
            "description": "东边那条水渠漏水，浇不了地",
            "colour": "yellow",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "registered" and body["household"] == county.household_a1.pk
    assert [s["id"] for s in body["similar"]] == [first.pk]
    assert 0 < body["similar"][0]["score"] <= 1
    again = api.get(f"issues/{body['id']}/similar/").json()
    assert again == body["similar"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "no-such"}, "category"),
        ({"node": 999_999}, "node"),
        ({"description": "  "}, "description"),
        ({"colour": "purple"}, "colour"),
    ],
)
def test_bad_registration_is_refused_with_a_message_and_nothing_written(
    api, county, member, change, field, clock
):
    body = {
        "node": county.grid_a1.pk,
        "category": "irrigation",
        "description": "水渠漏水",
        "colour": "blue",
        **change,
    }
    response = api.as_user(member).post("issues/", body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Issue.objects.exists() and not IssueEvent.objects.exists()


def test_a_place_outside_ones_jurisdiction_reads_like_an_unknown_one(api, county, outsider, clock):
    body = {"node": county.grid_a1.pk, "category": "road", "description": "x", "colour": "blue"}
    outside = api.as_user(outsider).post("issues/", body).json()
    unknown = api.post("issues/", {**body, "node": 999_999}).json()
    assert outside == unknown and not Issue.objects.exists()


def test_transitions_through_the_api_and_refusals(
    api, county, member, town, water, departments, register, outsider, clock, writes
):
    issue = register()
    path = f"issues/{issue.pk}"
    # The department cannot accept before dispatch: 409 with the reason.
    api.as_user(water)
    before = writes()  # after the token (its issue is audited)
    refused = api.post(f"{path}/accept/", {})
    assert refused.status_code == 404  # not yet sent to it: it cannot even see it
    assert writes() == before
    api.as_user(town)
    before = writes()
    early = api.post(f"{path}/accept/", {})
    assert early.status_code == 409 and "cannot be accepted" in early.json()["detail"]
    assert writes() == before
    sent = api.post(f"{path}/dispatch/", {"to_department": departments.water.pk, "version": 1})
    assert sent.status_code == 200 and sent.json()["status"] == "dispatched"
    before = writes()
    stale = api.post(f"{path}/dispatch/", {"to_department": departments.power.pk, "version": 1})
    assert stale.status_code == 409 and writes() == before
    accepted = api.as_user(water).post(f"{path}/accept/", {"version": 2})
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["reporters"] == []  # found on patrol: nobody to reply to
    done = api.post(f"{path}/resolve/", {"resolution": "修好了"})
    assert done.status_code == 200, done.content
    revisit = api.as_user(town).post(f"{path}/revisit/", {"mode": "phone", "result": "satisfied"})
    assert revisit.json()["status"] == "revisited"
    closed = api.post(f"{path}/close/", {})
    assert closed.json()["status"] == "closed"
    assert [e["action"] for e in closed.json()["timeline"]] == [
        "register",
        "dispatch",
        "accept",
        "resolve",
        "revisit",
        "close",
    ]
    assert api.as_user(outsider).get(f"{path}/").status_code == 404
    issue.refresh_from_db()
    assert issue.status == Status.CLOSED


def test_resolve_requires_a_reply_to_each_reporter_in_the_api_too(
    api, county, member, town, water, departments, register, clock
):
    issue = register(household=county.household_a1)
    api.as_user(town).post(f"issues/{issue.pk}/dispatch/", {"to_department": departments.water.pk})
    detail = api.as_user(water).post(f"issues/{issue.pk}/accept/", {}).json()
    reporter_id = detail["reporters"][0]["id"]
    assert detail["reporters"][0]["phone"] == "138****5678"  # masked
    response = api.post(
        f"issues/{issue.pk}/resolve/",
        {"resolution": "修好了", "replies": {str(reporter_id): "已修好，请查看"}},
    )
    assert response.status_code == 200
    assert response.json()["reporters"][0]["reply"] == "已修好，请查看"


def test_resolving_without_the_reply_is_refused_and_changes_nothing(
    api, county, member, town, water, departments, register, clock, writes
):
    issue = register(household=county.household_a1)
    api.as_user(town).post(f"issues/{issue.pk}/dispatch/", {"to_department": departments.water.pk})
    api.as_user(water).post(f"issues/{issue.pk}/accept/", {})
    before = writes()
    response = api.post(f"issues/{issue.pk}/resolve/", {"resolution": "修好了"})
    assert response.status_code == 400 and "replies" in response.json()["errors"]
    assert response.json()["codes"] == {"replies": ["issue.replies_missing"]}
    issue.refresh_from_db()
    assert issue.status == Status.ACCEPTED and writes() == before


def test_openapi_document_lists_the_issue_endpoints(api, county, member):
    schema = api.as_user(member).get("openapi.json").json()
    paths = schema["paths"]
    assert "/api/v1/issues/" in paths and "post" in paths["/api/v1/issues/"]
    assert "/api/v1/issues/{pk}/similar/" in paths
    assert "/api/v1/issues/{pk}/revisit/" in paths


def test_an_edit_based_on_an_old_version_is_refused(api, county, member, register, clock, writes):
    issue = register()
    path = f"/api/v1/issues/{issue.pk}/"
    headers = {"Authorization": f"Bearer {_token(member)}"}
    from django.test import Client

    client = Client()
    first = client.patch(
        path,
        json.dumps({"version": 1, "title": "东头水渠破损"}),
        "application/json",
        headers=headers,
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    before = writes()
    stale = client.patch(
        path, json.dumps({"version": 1, "title": "别的标题"}), "application/json", headers=headers
    )
    assert stale.status_code == 409 and writes() == before
    issue.refresh_from_db()
    assert (issue.title, issue.version) == ("东头水渠破损", 2)


def test_the_api_confirms_a_dispatch_outside_the_colours_level_and_keeps_the_accept_note(
    api, county, member, town, water, departments, register, clock, writes
):
    from minqing.issues.models import Colour, IssueEvent

    issue = register(colour=Colour.BLUE)  # a village's issue
    path = f"issues/{issue.pk}"
    api.as_user(town)
    before = writes()
    asked = api.post(f"{path}/dispatch/", {"to_department": departments.water.pk})
    assert asked.status_code == 400 and writes() == before
    issue.refresh_from_db()
    assert issue.status == Status.REGISTERED  # nothing happened without the confirmation
    sent = api.as_user(town).post(
        f"{path}/dispatch/", {"to_department": departments.water.pk, "level_confirmed": True}
    )
    assert sent.status_code == 200 and sent.json()["status"] == "dispatched"
    event = IssueEvent.objects.get(issue=issue, action="dispatch")
    assert event.data.get("level_confirmed") is True
    accepted = api.as_user(water).post(f"{path}/accept/", {"note": "明天上午派人到现场"})
    assert accepted.status_code == 200
    assert IssueEvent.objects.get(issue=issue, action="accept").note == "明天上午派人到现场"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"category": "no-such"}, "category", "issue.category_required"),
        ({"node": 999_999}, "node", "issue.unknown_target"),
        ({"description": "  "}, "description", "required"),
        ({"colour": "purple"}, "colour", "issue.unknown_colour"),
        ({"reporter_phone": "12345"}, "reporter_phone", "phone_format"),
    ],
)
def test_bad_input_answers_400_with_each_fields_code(api, county, member, change, field, code):
    from minqing.audit.models import AuditEvent

    api.as_user(member)  # issuing the token is audited: count after it
    audits = AuditEvent.objects.count()
    body = {
        "node": county.grid_a1.pk,
        "category": "irrigation",
        "description": "水渠漏水",
        "colour": "blue",
        **change,
    }
    answer = api.post("issues/", body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["codes"][field] == [code]
    assert answer.json()["code"] == code
    assert not Issue.objects.exists() and not IssueEvent.objects.exists()
    assert AuditEvent.objects.count() == audits


def test_a_step_the_state_does_not_allow_answers_409_with_its_code(
    api, county, town, water, departments, register, clock
):
    from minqing.audit.models import AuditEvent

    issue = register()
    api.as_user(town)  # issuing the token is audited: count after it
    events, audits = IssueEvent.objects.count(), AuditEvent.objects.count()
    early = api.post(f"issues/{issue.pk}/accept/", {})
    assert early.status_code == 409
    assert early.json()["code"] == "issue.wrong_state"
    # resolving before it was accepted: the same code, the state says why
    resolve = api.post(f"issues/{issue.pk}/resolve/", {"resolution": "修好了"})
    assert resolve.status_code == 409 and resolve.json()["code"] == "issue.wrong_state"
    issue.refresh_from_db()
    assert (issue.status, issue.version) == (Status.REGISTERED, 1)
    assert IssueEvent.objects.count() == events and AuditEvent.objects.count() == audits


def test_the_refusals_of_a_dispatch_carry_their_codes(
    api, county, town, departments, register, clock
):
    from minqing.audit.models import AuditEvent

    issue = register(colour="blue")  # a village's issue, sent by the town: asks first
    api.as_user(town)  # issuing the token is audited: count after it
    audits = AuditEvent.objects.count()
    asked = api.post(f"issues/{issue.pk}/dispatch/", {"to_department": departments.water.pk})
    assert asked.status_code == 400
    assert asked.json()["codes"] == {"to": ["issue.confirm_level"]}
    stale = api.post(
        f"issues/{issue.pk}/dispatch/",
        {"to_department": departments.water.pk, "level_confirmed": True, "version": 7},
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_edit"
    issue.refresh_from_db()
    assert (issue.status, issue.version) == (Status.REGISTERED, 1)
    assert not IssueEvent.objects.filter(issue=issue).exclude(action="register").exists()
    assert AuditEvent.objects.count() == audits
