"""Second factor (docs/SECURITY-BAR.md §3 and §5): TOTP with recovery codes, enforced per role.

The clock is pinned (time_machine) so codes and the lockout window are exact; it is moved one
second between attempts so the audit rows keep their order in time.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pyotp
import pytest
import time_machine
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from minqing.accounts.models import RecoveryCode, Role, TotpDevice
from minqing.accounts.services import otp as services_otp
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD
from minqing.tests.dbstate import nothing_written

#: 10:00:01 Beijing time, one second into a 30-second step.
START = dt.datetime(2026, 12, 2, 2, 0, 1, tzinfo=dt.UTC)

#: Routes reachable before the second factor (tested below as reachable).
UNSCOPED = {
    "accounts:otp_enrol",
    "accounts:otp_verify",
    "accounts:otp_settings",
    "accounts:otp_recovery_codes",
}
#: A refused code writes its one audit row (``login`` success False ``via: otp``, ``login.locked``
#: or a limit's ``rate_limited`` trip) and nothing else: not the device's ``last_step``, no
#: recovery code spent, not the user's ``last_login``.
ONE_AUDIT_ROW = {"audit.auditevent": 1}


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def enforced(settings):
    settings.MINQING_OTP_REQUIRED_ROLES = frozenset(
        {Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN, Role.AUDITOR, Role.COMMAND_CENTRE}
    )


def _enrol(user) -> tuple[str, list[str]]:
    """An authenticator confirmed with its first code, 60 s before now (that code is spent)."""
    device = services_otp.otp_enrol_start(user=user)
    secret = device.secret.reveal()
    earlier = services_otp.timezone.now() - dt.timedelta(seconds=60)
    with time_machine.travel(earlier, tick=False):
        outcome, codes = services_otp.otp_enrol_confirm(user=user, code=pyotp.TOTP(secret).now())
    assert outcome is services_otp.Outcome.OK
    return secret, codes


def _code(secret: str) -> str:
    return pyotp.TOTP(secret).at(services_otp.timezone.now())


def _login(client, username: str, password: str = PASSWORD):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def _verify(client, code: str):
    return client.post(reverse("accounts:otp_verify"), {"code": code})


def _otp_failures(username: str) -> int:
    return AuditEvent.objects.filter(
        action="login", success=False, username=username, detail__via="otp"
    ).count()


def _sample_kwargs(pattern: URLPattern) -> dict[str, object]:
    """A value each of the route's converters takes (its regex decides)."""
    kwargs: dict[str, object] = {}
    for name, converter in pattern.pattern.converters.items():
        first_choice = converter.regex.split("|")[0].strip("()")
        candidates = ["1", "x", first_choice, str(uuid.UUID(int=1)), "2026-12-02"]
        value = next(c for c in candidates if re.fullmatch(converter.regex, c))
        kwargs[name] = converter.to_python(value)
    return kwargs


def _every_route() -> list[tuple[str, str]]:
    """(route name, a URL of it) for every named route of the project."""
    found: list[tuple[str, str]] = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{prefix}{p.namespace}:" if p.namespace else prefix)
            elif isinstance(p, URLPattern) and p.name:
                name = prefix + p.name
                found.append((name, reverse(name, kwargs=_sample_kwargs(p))))

    walk(get_resolver().url_patterns)
    return sorted(set(found))


def _open_before_the_code(url: str) -> bool:
    func = resolve(url).func
    target = getattr(func, "view_class", func)
    return any(
        getattr(o, a, False)
        for o in (func, target)
        for a in ("minqing_public", "minqing_otp_exempt")
    )


# --------------------------------------------------------------------------- the wall


def test_password_alone_reaches_no_protected_view_of_an_enforced_role(
    client, county, county_user, enforced, clock
):
    _enrol(county_user)
    assert _login(client, "county_user").status_code == 302
    walked = 0
    with nothing_written():
        for name, url in _every_route():
            if _open_before_the_code(url):
                continue
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                if url.startswith("/api/"):
                    assert response.status_code == 403, (method, name, response.status_code)
                    assert "Second factor" in response.json()["detail"], name
                else:
                    assert response.status_code == 302, (method, name, response.status_code)
                    assert response["Location"].startswith(reverse("accounts:otp_verify")), name
                walked += 1
    assert walked > 100  # the whole resolver, pages and API
    # the session was never verified, and nothing but the password-step login was written
    assert client.session[services_otp.SESSION_KEY] == services_otp.PENDING
    assert client.get(reverse("accounts:otp_verify")).status_code == 200


def test_the_separated_roles_and_the_command_centre_are_enforced_by_default():
    from minqing import settings as project_settings

    assert project_settings.MINQING_OTP_REQUIRED_ROLES == {
        Role.SECURITY_ADMIN,
        Role.SYSTEM_ADMIN,
        Role.AUDITOR,
        Role.COMMAND_CENTRE,
    }


def test_right_code_passes_and_is_audited(client, county, county_user, enforced, clock):
    secret, _codes = _enrol(county_user)
    _login(client, "county_user")
    response = client.get(reverse("org:home"))
    assert response["Location"] == reverse("accounts:otp_verify") + "?next=%2F"
    response = client.post(reverse("accounts:otp_verify"), {"code": _code(secret), "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get(reverse("org:home")).status_code == 200
    assert client.get(reverse("api:me")).status_code == 200
    ok = AuditEvent.objects.filter(action="login", success=True, username="county_user")
    assert list(ok.values_list("detail", flat=True))[-1] == {"via": "otp"}


def test_a_role_without_enforcement_logs_in_with_the_password(client, county, owner, enforced):
    _login(client, "owner")
    assert client.get(reverse("notifications:list")).status_code == 200
    assert client.session[services_otp.SESSION_KEY] == services_otp.NOT_NEEDED


def test_anyone_who_enrolled_must_use_it(client, county, owner, enforced, clock):
    secret, _codes = _enrol(owner)  # a village cadre: not enforced by role
    _login(client, "owner")
    assert client.get(reverse("org:home"))["Location"].startswith(reverse("accounts:otp_verify"))
    assert _verify(client, _code(secret)).status_code == 302
    assert client.get(reverse("notifications:list")).status_code == 200


def test_a_code_is_refused_the_second_time(client, county, county_user, enforced, clock):
    secret, _codes = _enrol(county_user)
    code = _code(secret)
    _login(client, "county_user")
    assert _verify(client, code).status_code == 302
    client.post(reverse("accounts:logout"))
    clock.shift(dt.timedelta(seconds=5))  # same 30-second step: the code is still "right"
    assert _code(secret) == code
    _login(client, "county_user")
    with nothing_written(allow=ONE_AUDIT_ROW):
        response = _verify(client, code)
    assert response.status_code == 400
    with nothing_written():
        assert client.get(reverse("org:home")).status_code == 302
    failure = AuditEvent.objects.filter(action="login", success=False).last()
    assert failure.detail == {"via": "otp", "reason": "replay"}
    # an older code of the window is refused too once a newer one was used
    clock.shift(dt.timedelta(seconds=30))
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _verify(client, pyotp.TOTP(secret).at(START)).status_code == 400
    assert _verify(client, _code(secret)).status_code == 302


def test_codes_of_the_neighbouring_steps_pass_and_older_ones_fail(county, county_user, clock):
    secret, _codes = _enrol(county_user)
    totp = pyotp.TOTP(secret)
    now = services_otp.timezone.now()
    assert services_otp._matching_step(secret, totp.at(now, counter_offset=1)) is not None
    assert services_otp._matching_step(secret, totp.at(now, counter_offset=-1)) is not None
    assert services_otp._matching_step(secret, totp.at(now, counter_offset=-2)) is None
    assert services_otp._matching_step(secret, "12345") is None
    assert services_otp._matching_step(secret, "abcdef") is None


# --------------------------------------------------------------------------- lockout


def test_five_wrong_codes_lock_and_the_sixth_with_the_right_code_is_refused(
    client, county, county_user, enforced, clock
):
    secret, _codes = _enrol(county_user)
    _login(client, "county_user")
    right = _code(secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        clock.shift(dt.timedelta(seconds=1))
        with nothing_written(allow=ONE_AUDIT_ROW):
            assert _verify(client, wrong).status_code == 400
    assert _otp_failures("county_user") == 5
    clock.shift(dt.timedelta(seconds=1))
    with nothing_written(allow=ONE_AUDIT_ROW):  # login.locked: the right code is not spent
        response = _verify(client, _code(secret))
    assert response.status_code == 400
    assert "locked" in response.content.decode()
    with nothing_written():
        assert client.get(reverse("org:home")).status_code == 302
    assert AuditEvent.objects.filter(
        action="login.locked", username="county_user", detail__via="otp"
    ).exists()
    # the password form is locked too: one lockout for every path
    client.post(reverse("accounts:logout"))
    with nothing_written(allow=ONE_AUDIT_ROW):  # login.locked; no last_login
        _login(client, "county_user")
    assert "_auth_user_id" not in client.session
    # fifteen minutes later the right code passes
    clock.shift(dt.timedelta(minutes=16))
    _login(client, "county_user")
    assert _verify(client, _code(secret)).status_code == 302


def test_logging_in_again_with_the_password_buys_no_more_guesses(
    client, county, county_user, enforced, clock
):
    """The password step is a successful login, which resets the shared count: the OTP step
    counts its own wrong codes since the last right one."""
    secret, _codes = _enrol(county_user)
    _login(client, "county_user")
    for _ in range(4):
        clock.shift(dt.timedelta(seconds=1))
        with nothing_written(allow=ONE_AUDIT_ROW):
            _verify(client, "000000" if _code(secret) != "000000" else "111111")
    client.post(reverse("accounts:logout"))
    clock.shift(dt.timedelta(seconds=1))
    _login(client, "county_user")
    assert client.session["_auth_user_id"]  # the password is still right
    clock.shift(dt.timedelta(seconds=1))
    with nothing_written(allow=ONE_AUDIT_ROW):
        _verify(client, "000000" if _code(secret) != "000000" else "111111")
    clock.shift(dt.timedelta(seconds=1))
    with nothing_written(allow=ONE_AUDIT_ROW):  # login.locked: the right code is not spent
        response = _verify(client, _code(secret))
    assert response.status_code == 400
    with nothing_written():
        assert client.get(reverse("org:home")).status_code == 302


# --------------------------------------------------------------------------- recovery codes


def test_recovery_codes_are_ten_hashed_and_each_works_once(
    client, county, county_user, enforced, clock
):
    _secret, codes = _enrol(county_user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=county_user).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not set(codes) & set(stored)
    _login(client, "county_user")
    response = _verify(client, codes[3].lower())  # read back from paper: case does not matter
    assert response.status_code == 302
    assert client.get(reverse("org:home")).status_code == 200
    client.post(reverse("accounts:logout"))
    clock.shift(dt.timedelta(seconds=1))
    _login(client, "county_user")
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _verify(client, codes[3]).status_code == 400
    clock.shift(dt.timedelta(seconds=1))
    assert _verify(client, codes[4]).status_code == 302
    assert services_otp.recovery_codes_left(county_user) == 8
    used = AuditEvent.objects.filter(action="login", success=True, detail__recovery_code=True)
    assert used.count() == 2


def test_new_recovery_codes_replace_the_old_ones(client, county, county_user, enforced, clock):
    secret, old = _enrol(county_user)
    _login(client, "county_user")
    _verify(client, _code(secret))
    response = client.post(reverse("accounts:otp_recovery_codes"))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new = [c for c in old if c in response.content.decode()]
    assert new == []
    assert response.content.decode().count("<li><code>") == 10
    client.post(reverse("accounts:logout"))
    clock.shift(dt.timedelta(seconds=1))
    _login(client, "county_user")
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _verify(client, old[0]).status_code == 400
    assert AuditEvent.objects.filter(action="otp.recovery_codes").count() == 1


# --------------------------------------------------------------------------- enrolment


def test_enrolment_on_first_login_of_an_enforced_role(client, county, auditor, enforced, clock):
    _login(client, "auditor")
    response = client.get(reverse("audit:log"))
    assert response["Location"].startswith(reverse("accounts:otp_verify"))
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:otp_enrol"))
    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body and "otpauth://totp/Minqing:auditor?secret=" in body
    device = TotpDevice.objects.get(user=auditor)
    secret = device.secret.reveal()
    # the secret is stored encrypted: the raw column holds no trace of it
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice WHERE id = %s", [device.pk])
        raw = bytes(cursor.fetchone()[0])
    assert secret.encode() not in raw and len(raw) > len(secret)
    # a reload keeps the secret the phone scanned
    client.get(reverse("accounts:otp_enrol"))
    assert TotpDevice.objects.get(user=auditor).secret.reveal() == secret
    with nothing_written(allow=ONE_AUDIT_ROW):  # the device is not confirmed, nor made anew
        wrong = client.post(reverse("accounts:otp_enrol"), {"code": "12 34 5"})
    assert wrong.status_code == 400 and 'value="12 34 5"' in wrong.content.decode()
    assert _otp_failures("auditor") == 1
    clock.shift(dt.timedelta(seconds=1))
    done = client.post(reverse("accounts:otp_enrol"), {"code": _code(secret), "next": "/audit/"})
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    assert done.content.decode().count("<li><code>") == 10
    assert client.get(reverse("audit:log")).status_code == 200
    assert AuditEvent.objects.filter(action="otp.enrol", object_id=str(auditor.pk)).count() == 1
    # a confirmed authenticator cannot be replaced by whoever holds the password
    client.post(reverse("accounts:logout"))
    _login(client, "auditor")
    with nothing_written():
        response = client.get(reverse("accounts:otp_enrol"))
    assert response["Location"].startswith(reverse("accounts:otp_verify"))
    assert TotpDevice.objects.get(user=auditor).secret.reveal() == secret


def test_the_verify_page_follows_only_local_next(client, county, county_user, enforced, clock):
    secret, _codes = _enrol(county_user)
    _login(client, "county_user")
    response = client.post(
        reverse("accounts:otp_verify"), {"code": _code(secret), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("org:home")


def test_the_session_key_changes_on_verification(client, county, county_user, enforced, clock):
    secret, _codes = _enrol(county_user)
    _login(client, "county_user")
    before = client.session.session_key
    _verify(client, _code(secret))
    assert client.session.session_key != before


def test_settings_page_without_and_with_an_authenticator(client, county, owner, clock):
    client.force_login(owner)
    page = client.get(reverse("accounts:otp_settings")).content.decode()
    assert reverse("accounts:otp_enrol") in page
    secret, _codes = _enrol(owner)
    page = client.get(reverse("accounts:otp_settings")).content.decode()
    assert "10 recovery codes left" in page


def test_code_attempts_count_in_the_login_rate_limit_per_address(
    client, county, county_user, enforced, clock, settings
):
    settings.MINQING_RATE_LIMITS = {"login.address": (3, 900)}
    secret, _codes = _enrol(county_user)
    _login(client, "county_user")
    for _ in range(3):
        clock.shift(dt.timedelta(seconds=1))
        with nothing_written(allow=ONE_AUDIT_ROW):
            response = _verify(client, "000000" if _code(secret) != "000000" else "111111")
        assert response.status_code == 400
    clock.shift(dt.timedelta(seconds=1))
    with nothing_written(allow=ONE_AUDIT_ROW):  # the trip's rate_limited row
        response = _verify(client, _code(secret))
    assert response.status_code == 400 and "Too many requests" in response.content.decode()
    assert client.session[services_otp.SESSION_KEY] == services_otp.PENDING
    assert AuditEvent.objects.filter(action="rate_limited", detail__via="otp").count() == 1


def test_the_api_token_login_asks_for_the_code_too(client, county, county_user, enforced, clock):
    """Bearer tokens of users who need the second factor are issued only after it."""
    secret, _codes = _enrol(county_user)
    url = reverse("api:token_issue")

    def issue(**extra):
        body = {"username": "county_user", "password": PASSWORD, **extra}
        return client.post(url, body, content_type="application/json")

    with nothing_written():  # the code is asked for: nothing audited, nothing issued
        assert issue().status_code == 401
    clock.shift(dt.timedelta(seconds=1))
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert issue(otp="000000" if _code(secret) != "000000" else "111111").status_code == 401
    assert _otp_failures("county_user") == 1
    clock.shift(dt.timedelta(seconds=1))
    response = issue(otp=_code(secret))
    assert response.status_code == 201 and response.json()["token"].startswith("mq_")
    clock.shift(dt.timedelta(seconds=1))
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert issue(otp=_code(secret)).status_code == 401  # the code was used
