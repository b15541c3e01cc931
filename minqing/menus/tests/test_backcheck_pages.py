"""The back-check pages (抽样回访): a town draws a sample (audited), calls each household back
and keeps what it said; refusals change nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.menus.models import BackCheck, BackCheckItem, BackCheckResult, Task
from minqing.menus.services.answers import AnswerInput, Status, answers_record
from minqing.tests.dbstate import nothing_written

ANSWERS = {"water_ok": "yes", "insured": "yes", "health": "good", "well_depth": 20}


def _answer(menus, household, seconds=300):
    task = Task.objects.get(campaign=menus.campaign, household=household)
    now = timezone.now()
    [result] = answers_record(
        by=menus.leader,
        records=[
            AnswerInput(
                client_uuid=uuid.uuid4(),
                task_id=task.pk,
                version_id=menus.version.pk,
                outcome="home",
                finished_at=now - dt.timedelta(minutes=1),
                started_at=now - dt.timedelta(minutes=1, seconds=seconds),
                answers=ANSWERS,
            )
        ],
    )
    assert result.status == Status.SAVED, result.errors
    return task


@pytest.fixture
def town_staff(county):
    return make_user("town_staff", Role.TOWN_STAFF, county.town_a)


@pytest.fixture
def answered(menus, county):
    """王庄村's two households answered at home, A001 too fast."""
    return [_answer(menus, county.household_a1, seconds=20), _answer(menus, county.household_a2)]


def _list_url(menus, county):
    return reverse("menus:backchecks", args=[menus.campaign.pk, county.town_a.pk])


def test_a_draw_by_size_is_audited_and_takes_the_fast_answers_first(
    client, menus, county, town_staff, answered
):
    client.force_login(town_staff)
    page = client.get(_list_url(menus, county))
    assert page.status_code == 200 and page.context["answered"] == 2
    response = client.post(_list_url(menus, county), {"size": "1", "share": ""})
    check = BackCheck.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("menus:backcheck", args=[check.pk])
    assert (check.town, check.size, check.drawn_by) == (county.town_a, 1, town_staff)
    assert [i.task_id for i in check.items.all()] == [answered[0].pk]  # flagged too fast
    [event] = AuditEvent.objects.filter(action="menus.backcheck_draw")
    assert (event.object_id, event.user_id_value) == (str(check.pk), town_staff.pk)
    listing = client.get(_list_url(menus, county)).content.decode()
    assert reverse("menus:backcheck", args=[check.pk]) in listing


def test_a_draw_by_share_rounds_up(client, menus, county, town_staff, answered):
    client.force_login(town_staff)
    client.post(_list_url(menus, county), {"size": "", "share": "60"})
    assert BackCheck.objects.get().size == 2  # 60 % of 2, rounded up


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"size": "", "share": ""}, "size", "Give a number of households or a share."),
        ({"size": "0"}, "size", "Draw between 1 and 500 households."),
        ({"size": "501"}, "size", "Draw between 1 and 500 households."),
        ({"size": "", "share": "150"}, "share", "A share between 1 and 100 per cent."),
        ({"size": "abc"}, "size", "Give a whole number."),
    ],
)
def test_draw_refusals_say_why_and_write_nothing(
    client, menus, county, town_staff, answered, typed, field, message
):
    client.force_login(town_staff)
    with nothing_written():
        response = client.post(_list_url(menus, county), typed)
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    if typed.get("size"):
        assert f'value="{typed["size"]}"' in response.content.decode()


def test_nothing_to_draw_before_any_answer(client, menus, county, town_staff):
    client.force_login(town_staff)
    with nothing_written():
        response = client.post(_list_url(menus, county), {"size": "5"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "No household of this town has answers to check yet."
    ]


def test_results_are_kept_and_a_refusal_keeps_the_typing(
    client, menus, county, town_staff, answered
):
    client.force_login(town_staff)
    client.post(_list_url(menus, county), {"size": "2"})
    check = BackCheck.objects.get()
    first, second = check.items.order_by("task__household__number")
    url = reverse("menus:backcheck", args=[check.pk])
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "A001" in body and "王**" in body and "138****5678" in body
    assert "王建国" not in body and "13812345678" not in body
    # says otherwise without saying what: refused, typing kept, nothing written
    with nothing_written():
        refused = client.post(url, {"item": str(first.pk), "result": "differs", "note": ""})
    assert refused.status_code == 400
    [row] = [r for r in refused.context["rows"] if r["item"].pk == first.pk]
    assert row["errors"] == {"note": "Say what the household said otherwise."}
    assert row["result"] == "differs"
    assert 'value="differs" checked' in refused.content.decode()
    with nothing_written():
        assert client.post(url, {"item": str(first.pk), "result": "pending"}).status_code == 400
    # kept
    ok = client.post(url, {"item": str(first.pk), "result": "confirmed", "note": "户主说来过"})
    assert ok.status_code == 302 and ok.url == f"{url}#item-{first.pk}"
    client.post(url, {"item": str(second.pk), "result": "differs", "note": "说没人来过"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.result, first.note, first.checked_by) == ("confirmed", "户主说来过", town_staff)
    assert (second.result, second.note) == (BackCheckResult.DIFFERS, "说没人来过")
    assert AuditEvent.objects.filter(action="menus.backcheck_result").count() == 2
    again = client.get(url)
    assert again.context["done"] == 2
    assert (
        "户主说来过" in again.content.decode() and "Confirmed the visit" in again.content.decode()
    )
    listing = client.get(_list_url(menus, county))
    [row] = listing.context["checks"]
    assert (row["pending"], row["confirmed"], row["differs"], row["unreachable"]) == (0, 1, 1, 0)


def test_an_item_of_another_sample_is_not_found(client, menus, county, town_staff, answered):
    client.force_login(town_staff)
    client.post(_list_url(menus, county), {"size": "1"})
    client.post(_list_url(menus, county), {"size": "1"})
    older, newer = BackCheck.objects.order_by("pk")
    item = newer.items.get()
    with nothing_written():
        response = client.post(
            reverse("menus:backcheck", args=[older.pk]),
            {"item": str(item.pk), "result": "confirmed"},
        )
    assert response.status_code == 404


def test_only_the_towns_staff_and_the_command_centre_back_check(
    client, menus, county, town_staff, answered, owner, outsider
):
    client.force_login(menus.organiser)
    assert client.get(_list_url(menus, county)).status_code == 200
    client.post(_list_url(menus, county), {"size": "1"})
    check = BackCheck.objects.get()
    item = BackCheckItem.objects.get()
    other_town = make_user("other_town", Role.TOWN_STAFF, county.town_b)
    # the town's own people are told why (403); another town's read it as missing (404)
    for user, code in (
        (owner, 403),
        (menus.leader, 403),
        (menus.water_staff, 403),
        (outsider, 404),
        (other_town, 404),
    ):
        client.force_login(user)
        with nothing_written():
            assert client.get(_list_url(menus, county)).status_code == code, user
            assert client.post(_list_url(menus, county), {"size": "1"}).status_code == code
            assert client.get(reverse("menus:backcheck", args=[check.pk])).status_code == code
            assert (
                client.post(
                    reverse("menus:backcheck", args=[check.pk]),
                    {"item": str(item.pk), "result": "confirmed"},
                ).status_code
                == code
            )
    client.force_login(town_staff)
    village = reverse("menus:backchecks", args=[menus.campaign.pk, county.village_a.pk])
    assert client.get(village).status_code == 404  # drawn in a town
