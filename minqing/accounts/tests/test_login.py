import datetime as dt

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD
from minqing.tests.dbstate import nothing_written

#: A refused login writes its one audit row (``login`` success False, or ``login.locked``) and
#: nothing else: not the user's ``last_login``, no session of a user.
ONE_AUDIT_ROW = {"audit.auditevent": 1}


def _login(client, password):
    return client.post(reverse("accounts:login"), {"username": "owner", "password": password})


def test_sixth_attempt_with_the_right_password_is_refused(client, county, owner):
    for _ in range(5):
        with nothing_written(allow=ONE_AUDIT_ROW):
            assert _login(client, "Wrong-password-9").status_code == 200
    with nothing_written(allow=ONE_AUDIT_ROW):
        response = _login(client, PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login.locked", username="owner").count() == 1


def test_lockout_ends_after_fifteen_minutes(client, county, owner, monkeypatch):
    for _ in range(5):
        with nothing_written(allow=ONE_AUDIT_ROW):
            _login(client, "Wrong-password-9")
    later = timezone.now() + dt.timedelta(minutes=16)
    monkeypatch.setattr("minqing.accounts.services.auth.timezone.now", lambda: later)
    response = _login(client, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_a_success_resets_the_count(client, county, owner):
    for _ in range(4):
        with nothing_written(allow=ONE_AUDIT_ROW):
            _login(client, "Wrong-password-9")
    assert _login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        with nothing_written(allow=ONE_AUDIT_ROW):
            _login(client, "Wrong-password-9")
    assert _login(client, PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "password",
    ["short1A!", "alllowercaseletters", "owner-owner-owner", "123456789012", "password1234"],
)
def test_weak_passwords_are_refused(county, owner, password):
    with pytest.raises(ValidationError):
        validate_password(password, owner)


def test_strong_password_passes(county, owner):
    validate_password("Granary-Lantern-73", owner)


def test_logout_is_post_only_and_ends_the_session(client, county, owner):
    client.force_login(owner)
    with nothing_written():
        assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session


def test_separated_roles_exclude_every_other_role(county, auditor, owner):
    from minqing.accounts.models import Role, RoleAssignment
    from minqing.accounts.services import role_assign

    with nothing_written(), pytest.raises(ValidationError):
        role_assign(user=auditor, role=Role.SYSTEM_ADMIN)
    with nothing_written(), pytest.raises(ValidationError):
        role_assign(user=auditor, role=Role.VILLAGE_CADRE, node=county.village_a)
    with nothing_written(), pytest.raises(ValidationError):
        role_assign(user=owner, role=Role.SECURITY_ADMIN)
    assert list(RoleAssignment.objects.filter(user=auditor).values_list("role", flat=True)) == [
        "auditor"
    ]
    assert list(RoleAssignment.objects.filter(user=owner).values_list("role", flat=True)) == [
        "village_cadre"
    ]


def test_node_roles_need_a_node_and_grants_are_audited(county, owner):
    from minqing.accounts.models import Role
    from minqing.accounts.services import role_assign

    with nothing_written(), pytest.raises(ValidationError):
        role_assign(user=owner, role=Role.GRID_WORKER)
    before = AuditEvent.objects.filter(action="permission.grant").count()
    role_assign(user=owner, role=Role.GRID_WORKER, node=county.grid_a1)
    assert AuditEvent.objects.filter(action="permission.grant").count() == before + 1


def test_expired_password_forces_a_change_and_the_change_is_audited(
    client, county, owner, settings
):
    settings.MINQING_PASSWORD_EXPIRY_DAYS = 90
    client.force_login(owner)
    page = reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    assert client.get(page).status_code == 200
    type(owner).objects.filter(pk=owner.pk).update(
        password_changed_at=timezone.now() - dt.timedelta(days=91)
    )
    with nothing_written():
        response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")
    with nothing_written():
        api = client.get(reverse("api:household", kwargs={"pk": county.household_a1.pk}))
    assert api.status_code == 403
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Granary-Lantern-73",
            "new_password2": "Granary-Lantern-73",
        },
    )
    assert response.status_code == 302
    assert client.get(page).status_code == 200
    assert AuditEvent.objects.filter(action="password.change", username="owner").count() == 1


def test_expiry_can_be_turned_off(client, county, owner, settings):
    settings.MINQING_PASSWORD_EXPIRY_DAYS = 0
    type(owner).objects.filter(pk=owner.pk).update(
        password_changed_at=timezone.now() - dt.timedelta(days=900)
    )
    client.force_login(owner)
    page = reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    assert client.get(page).status_code == 200


def test_session_ends_twelve_hours_after_login_however_busy(client, county, owner, monkeypatch):
    import time

    client.force_login(owner)
    page = reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    assert client.get(page).status_code == 200
    start = time.time()
    monkeypatch.setattr("minqing.accounts.middleware.time.time", lambda: start + 11 * 3600)
    assert client.get(page).status_code == 200
    monkeypatch.setattr("minqing.accounts.middleware.time.time", lambda: start + 12 * 3600 + 5)
    with nothing_written():
        response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "_auth_user_id" not in client.session


def test_a_disabled_user_is_out_at_the_next_request(client, county, owner):
    client.force_login(owner)
    page = reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    assert client.get(page).status_code == 200
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    with nothing_written():
        assert client.get(page).status_code == 302


def test_new_accounts_start_their_expiry_clock(county):
    from minqing.accounts.models import User

    fresh = User(username="fresh")
    fresh.set_unusable_password()
    fresh.save()
    assert not fresh.password_expired(90)
    assert not User.objects.create_user("other", password="Granary-Lantern-73").password_expired(90)
