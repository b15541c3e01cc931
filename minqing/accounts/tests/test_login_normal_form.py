"""One normal form of the username before anything is counted or audited (no lockout bypass);
usernames unique under it; a per-address and per-name limit on logins (docs/SECURITY-BAR.md §1, §3,
§16)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse

from minqing.accounts.models import User
from minqing.accounts.services import normalise_username
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD
from minqing.tests.dbstate import nothing_written

#: What the attacker typed instead of ``owner``: spaces, case, full width, ideographic space.
VARIANTS = ["owner ", " owner", "OWNER", "Owner  ", "ｏｗｎｅｒ", "\u3000owner", "ＯＷＮＥＲ\t"]
NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
#: A refused login writes its one audit row (``login`` success False, ``login.locked``, or a
#: limit's ``rate_limited`` trip) and nothing else; the rate-limit counters live in the cache.
ONE_AUDIT_ROW = {"audit.auditevent": 1}


def _login(client, username, password, **extra):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, **extra
    )


@pytest.mark.parametrize("raw", VARIANTS)
def test_every_spelling_has_one_normal_form(raw):
    assert normalise_username(raw) == "owner"


def test_forty_wrong_guesses_under_other_spellings_then_the_right_password_is_refused(
    client, county, owner, settings
):
    """The attack of item 3: the guesses were counted under ``owner `` and the right password
    under ``owner`` then worked. Now all are one account's failures, and the lockout holds."""
    settings.MINQING_RATE_LIMITS = {"login.address": (1000, 900), "login.username": (1000, 900)}
    with time_machine.travel(NOW, tick=False):
        for attempt in range(40):
            with nothing_written(allow=ONE_AUDIT_ROW):  # a failure, then (locked) login.locked
                response = _login(
                    client, VARIANTS[attempt % len(VARIANTS)], f"Wrong-guess-{attempt}"
                )
            assert response.status_code == 200
        for spelling in ["owner", *VARIANTS]:
            with nothing_written(allow=ONE_AUDIT_ROW):  # login.locked; no last_login
                response = _login(client, spelling, PASSWORD)
            assert response.status_code == 200
            assert "_auth_user_id" not in client.session
            assert "locked" in response.content.decode()
    failures = AuditEvent.objects.filter(action="login", success=False)
    assert set(failures.values_list("username", flat=True)) == {"owner"}
    assert failures.filter(detail__via="web").count() == 5  # then locked: login.locked rows
    assert set(
        AuditEvent.objects.filter(action="login.locked").values_list("username", flat=True)
    ) == {"owner"}
    assert not AuditEvent.objects.filter(action="login", success=True).exists()


def test_the_lockout_holds_for_a_spelling_after_fifteen_minutes_it_ends(client, county, owner):
    with time_machine.travel(NOW, tick=False):
        for _ in range(5):
            with nothing_written(allow=ONE_AUDIT_ROW):
                _login(client, "ＯＷＮＥＲ ", "Wrong-guess-1")
        with nothing_written(allow=ONE_AUDIT_ROW):
            assert _login(client, "owner", PASSWORD).status_code == 200
    with time_machine.travel(NOW + dt.timedelta(minutes=16), tick=False):
        assert _login(client, " Owner", PASSWORD).status_code == 302
        assert client.session["_auth_user_id"] == str(owner.pk)


def test_usernames_are_saved_in_their_normal_form(county):
    user = User.objects.create_user(" Village\u3000", password=PASSWORD)
    assert user.username == "village"
    user.username = "ＶＩＬＬＡＧＥ "
    user.save()
    user.refresh_from_db()
    assert user.username == "village"


@pytest.mark.parametrize("other", ["Village", "village ", "ｖｉｌｌａｇｅ", "VILLAGE"])
def test_a_second_spelling_of_a_username_is_refused_by_the_model(county, other):
    User.objects.create_user("village", password=PASSWORD)
    with nothing_written(), pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(other, password=PASSWORD)
    assert User.objects.filter(username__iexact="village").count() == 1


def test_the_database_refuses_a_second_spelling_even_past_save(county):
    """bulk_create skips ``save`` (and so the normalising): the constraint still holds."""
    User.objects.create_user("village", password=PASSWORD)
    with nothing_written(), pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(username="Village", password="!")])
    assert list(User.objects.filter(username__iexact="village").values_list("username")) == [
        ("village",)
    ]


def test_validate_unique_names_the_clash_on_the_form_path(county):
    from django.core.exceptions import ValidationError

    User.objects.create_user("village", password=PASSWORD)
    clash = User(username="Village ", password="!")
    clash.clean()  # AbstractUser.clean normalises
    with nothing_written(), pytest.raises(ValidationError):
        clash.validate_unique()


def test_a_login_with_another_spelling_of_the_right_name_succeeds_and_is_audited_once(
    client, county, owner
):
    assert _login(client, " ＯＷＮＥＲ", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)
    row = AuditEvent.objects.get(action="login", success=True)
    assert row.username == "owner"


def test_demo_and_fixture_usernames_keep_working(county, owner, member, outsider):
    from minqing.demo.users import DEMO_USERS

    for username in DEMO_USERS:
        assert normalise_username(username) == username
    for user in (owner, member, outsider):
        assert User.objects.get_by_natural_key(user.username.upper()) == user


def test_one_address_is_limited_after_its_failures_even_across_names(
    client, county, owner, settings
):
    """Twenty failures from one address per 15 minutes, on any names: then even the right
    password is refused with 429 and a message, and the trip is audited once."""
    settings.MINQING_RATE_LIMITS = {"login.address": (20, 900)}
    with time_machine.travel(NOW, tick=False):
        for attempt in range(20):
            with nothing_written(allow=ONE_AUDIT_ROW):
                assert _login(client, f"guess{attempt}", "Wrong-guess-1").status_code == 200
        for refused in range(3):
            # the trip is audited once per window; then only the cache counts
            with nothing_written(allow={"audit.auditevent": 1 if refused == 0 else 0}):
                response = _login(client, "owner", PASSWORD)
            assert response.status_code == 429
            assert "Too many requests" in response.content.decode()
            assert 'value="owner"' in response.content.decode()  # what was typed is kept
        assert "_auth_user_id" not in client.session
        # another address is not limited
        other = _login(client.__class__(), "owner", PASSWORD, REMOTE_ADDR="10.0.0.9")
        assert other.status_code == 302
    trips = AuditEvent.objects.filter(action="rate_limited", detail__limit="login.address")
    assert trips.count() == 1
    assert trips.get().ip == "127.0.0.1"
    with time_machine.travel(NOW + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert _login(client, "owner", PASSWORD).status_code == 302


def test_one_name_is_limited_across_addresses(client, county, owner, settings):
    """A guesser spread over many addresses: the name's attempts are bounded (so are its audit
    rows); the account's lockout already refuses the password after five."""
    settings.MINQING_RATE_LIMITS = {"login.username": (10, 900)}
    with time_machine.travel(NOW, tick=False):
        for attempt in range(10):
            with nothing_written(allow=ONE_AUDIT_ROW):  # five failures, then login.locked
                response = _login(client, "Owner", "Wrong-guess-1", REMOTE_ADDR=f"10.1.0.{attempt}")
            assert response.status_code == 200
        with nothing_written(allow=ONE_AUDIT_ROW):  # the trip's rate_limited row
            response = _login(client, "owner", PASSWORD, REMOTE_ADDR="10.2.0.1")
        assert response.status_code == 429
        rows = AuditEvent.objects.count()
        with nothing_written():
            for attempt in range(20):
                _login(client, "owner", "Wrong-guess-1", REMOTE_ADDR=f"10.3.0.{attempt}")
        assert AuditEvent.objects.count() == rows  # the flood writes nothing more
    assert (
        AuditEvent.objects.filter(action="rate_limited", detail__limit="login.username").count()
        == 1
    )


def test_a_name_that_grows_under_nfkc_is_cut_to_what_the_audit_keeps(client, county, settings):
    """Each U+FDFA becomes 18 letters: 150 of them would be 2,700, past the audit column."""
    settings.MINQING_RATE_LIMITS = {"login.address": (1, 900)}
    raw = "\ufdfa" * 150
    assert len(normalise_username(raw)) == 2700
    with nothing_written(allow=ONE_AUDIT_ROW):  # its login failure
        assert _login(client, raw, "Wrong-guess-1").status_code == 200
    with nothing_written(allow=ONE_AUDIT_ROW):  # the trip's rate_limited row
        assert _login(client, raw, "Wrong-guess-1").status_code == 429
    failure = AuditEvent.objects.get(action="login")
    assert failure.username == normalise_username(raw)[:150]
    assert AuditEvent.objects.get(action="rate_limited").username == failure.username
