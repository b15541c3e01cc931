"""居民点单 from the contact card's QR code: no login, one blue issue at the household's place,
nothing personal shown, bad tokens 404, a rate limit per address, and the intake account."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core import signing
from django.core.cache import cache
from django.urls import reverse

from minqing.accounts.models import Role, User
from minqing.audit.models import AuditEvent
from minqing.contacts.selectors import CARD_SALT, card_token
from minqing.issues.models import Colour, Issue, IssueReporter, Source, Status
from minqing.lib.fields import plain
from minqing.public.services import INTAKE_PREFIX, intake_account

GOOD = {"description": "村东头路灯坏了一个星期", "name": "王小明", "phone": "139 0000 1234"}


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


def url(household) -> str:
    return reverse("public:submit", kwargs={"token": card_token(household.pk)})


def test_form_needs_no_login_and_shows_nothing_personal(client, county):
    response = client.get(url(county.household_a1))
    assert response.status_code == 200
    body = response.content.decode()
    assert "王庄村" in body and "王**" in body
    for secret in ("王建国", "13812345678", "138****5678", "A001", "341602"):
        assert secret not in body


def test_a_submission_registers_one_blue_resident_issue_for_the_household(client, county):
    household = county.household_a1
    response = client.post(url(household), GOOD)
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert (issue.source, issue.colour, issue.status) == (
        Source.RESIDENT,
        Colour.BLUE,
        Status.REGISTERED,
    )
    assert (issue.household_id, issue.node_id, issue.village_id) == (
        household.pk,
        county.grid_a1.pk,
        county.village_a.pk,
    )
    assert issue.description == GOOD["description"]
    assert issue.category.code == "other"
    assert issue.created_by.username == f"{INTAKE_PREFIX}{county.county.pk}"
    reporter = IssueReporter.objects.get(issue=issue)
    assert (reporter.household_id, reporter.name, plain(reporter.phone), reporter.words) == (
        household.pk,
        "王小明",
        "13900001234",
        GOOD["description"],
    )
    audit = AuditEvent.objects.get(action="public.submit")
    assert (audit.object_id, audit.detail, audit.success, audit.ip) == (
        str(issue.pk),
        {"household": household.pk},
        True,
        "127.0.0.1",
    )
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    text = thanks.content.decode()
    assert f"<b>{issue.pk}</b>" in text and "We will call you back." in text
    assert "王建国" not in text and "13900001234" not in text


def test_the_name_may_be_left_out(client, county):
    client.post(url(county.household_a2), {**GOOD, "name": ""})
    reporter = IssueReporter.objects.get()
    assert reporter.name == "王秀英"  # the head's name, kept for the village, never shown publicly


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**GOOD, "description": "  "}, "description"),
        ({**GOOD, "phone": ""}, "phone"),
        ({**GOOD, "phone": "12345"}, "phone"),
        ({**GOOD, "name": "王" * 51}, "name"),
    ],
)
def test_bad_input_saves_nothing_and_keeps_what_was_typed(client, county, data, field):
    response = client.post(url(county.household_a1), data)
    assert response.status_code == 400
    assert list(response.context["errors"]) == [field]
    body = response.content.decode()
    if data["description"].strip():
        assert data["description"] in body
    if data["phone"]:
        assert f'value="{data["phone"]}"' in body
    assert not Issue.objects.exists()
    assert not AuditEvent.objects.filter(action="public.submit").exists()


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        signing.dumps(1, salt="another.salt"),
        signing.dumps(999_999, salt=CARD_SALT),
        signing.dumps("1", salt=CARD_SALT),
    ],
)
def test_a_bad_token_is_not_found(client, county, token):
    target = reverse("public:submit", kwargs={"token": token})
    assert client.get(target).status_code == 404
    assert client.post(target, GOOD).status_code == 404
    assert client.get(reverse("public:thanks", kwargs={"token": token}) + "?n=x").status_code == 404
    assert not Issue.objects.exists()


def test_a_tampered_token_is_not_found(client, county):
    token = card_token(county.household_a1.pk)
    forged = token.replace(token.split(":")[0], signing.b64_encode(b"3").decode(), 1)
    assert client.get(reverse("public:submit", kwargs={"token": forged})).status_code == 404
    assert client.post(reverse("public:submit", kwargs={"token": forged}), GOOD).status_code == 404
    assert not Issue.objects.exists()


def test_thanks_page_needs_the_signed_number(client, county):
    target = reverse("public:thanks", kwargs={"token": card_token(county.household_a1.pk)})
    assert client.get(target + "?n=5").status_code == 404


def test_the_sixth_submission_in_ten_minutes_is_refused_and_saves_nothing(client, county):
    for i in range(5):
        response = client.post(url(county.household_a1), {**GOOD, "description": f"问题{i}"})
        assert response.status_code == 302, i
    refused = client.post(url(county.household_a2), {**GOOD, "description": "第六个问题"})
    assert refused.status_code == 429
    body = refused.content.decode()
    assert "several problems in the last few minutes" in body
    assert "第六个问题" in body  # kept for later
    assert Issue.objects.count() == 5
    again = client.post(url(county.household_a1), {**GOOD, "description": "第七个"})
    assert again.status_code == 429
    assert Issue.objects.count() == 5
    refusals = AuditEvent.objects.filter(action="public.submit", success=False)
    assert refusals.count() == 1  # one row per window, not one per attempt
    # Another address is not held back.
    other = client.post(url(county.household_a1), GOOD, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302
    assert Issue.objects.count() == 6


def test_failed_input_does_not_use_up_the_limit(client, county):
    for _ in range(6):
        client.post(url(county.household_a1), {**GOOD, "phone": "1"})
    assert client.post(url(county.household_a1), GOOD).status_code == 302


def test_intake_account_cannot_log_in_and_only_registers(county):
    account = intake_account(county.county)
    assert intake_account(county.county) == account  # made once
    assert not account.has_usable_password()
    assert authenticate(username=account.username, password="") is None
    assert list(account.roles.values_list("role", "node_id")) == [
        (Role.REPRESENTATIVE, county.county.pk)
    ]
    assert account.full_name == "居民点单（谯城区）"
    assert User.objects.filter(username__startswith=INTAKE_PREFIX).count() == 1


def test_disabling_the_intake_account_stops_submissions(client, county):
    account = intake_account(county.county)
    account.is_active = False
    account.save()
    response = client.post(url(county.household_a1), GOOD)
    assert response.status_code == 503
    assert not Issue.objects.exists()
    assert GOOD["description"] in response.content.decode()


def test_a_submission_without_a_phone_is_refused_with_its_code(county):
    from django.core.exceptions import ValidationError

    from minqing.public.services import resident_submit

    with pytest.raises(ValidationError) as info:
        resident_submit(household=county.household_a1, description="路灯坏了", phone="")
    assert info.value.error_dict["phone"][0].code == "public.phone_required"
    assert not Issue.objects.exists()
