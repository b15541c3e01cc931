"""Account and role management: the security administrator alone; every
action audited; everyone else refused with 403 and nothing written (docs/SECURITY-BAR.md §8)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from minqing.accounts.models import RecoveryCode, Role, RoleAssignment, TotpDevice, User
from minqing.accounts.services import otp as services_otp
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD, make_user
from minqing.tests.dbstate import nothing_written

#: The account-management routes (for the route-coverage test in households/tests/test_scoping).
ROUTE_NAMES = {
    "accounts:users",
    "accounts:user_create",
    "accounts:user_detail",
    "accounts:user_disable",
    "accounts:user_enable",
    "accounts:user_password_reset",
    "accounts:user_otp_reset",
    "accounts:role_grant",
    "accounts:role_revoke",
}


@pytest.fixture
def secadmin(county) -> User:
    return make_user("secadmin", Role.SECURITY_ADMIN)


@pytest.fixture
def sysadmin(county) -> User:
    return make_user("sysadmin", Role.SYSTEM_ADMIN)


def _snapshot() -> tuple:
    return (
        AuditEvent.objects.count(),
        User.objects.count(),
        list(User.objects.order_by("pk").values_list("pk", "is_active", "password")),
        list(RoleAssignment.objects.order_by("pk").values_list("pk", "user_id", "role")),
        TotpDevice.objects.count(),
    )


def _routes(target: User) -> list[tuple[str, str, dict]]:
    assignment = target.roles.first()
    grant = {"role": Role.GRID_WORKER}
    return [
        ("get", reverse("accounts:users"), {}),
        ("get", reverse("accounts:user_create"), {}),
        ("post", reverse("accounts:user_create"), {"username": "intruder"}),
        ("get", reverse("accounts:user_detail", args=[target.pk]), {}),
        ("post", reverse("accounts:user_disable", args=[target.pk]), {}),
        ("post", reverse("accounts:user_enable", args=[target.pk]), {}),
        ("post", reverse("accounts:user_password_reset", args=[target.pk]), {}),
        ("post", reverse("accounts:user_otp_reset", args=[target.pk]), {}),
        ("post", reverse("accounts:role_grant", args=[target.pk]), grant),
        ("post", reverse("accounts:role_revoke", args=[target.pk, assignment.pk]), {}),
    ]


def _last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize("who", ["sysadmin", "auditor", "owner", "county_user", "nobody"])
def test_everyone_but_the_security_admin_is_refused_and_nothing_is_written(
    client, county, request, who
):
    target = make_user("target", Role.GRID_WORKER, county.grid_a1)
    services_otp.otp_enrol_start(user=target)
    TotpDevice.objects.filter(user=target).update(confirmed_at="2026-12-01T00:00:00Z")
    actor = make_user("nobody") if who == "nobody" else request.getfixturevalue(who)
    client.force_login(actor)
    before = _snapshot()
    for method, url, data in _routes(target):
        with nothing_written():
            response = getattr(client, method)(url, data)
        assert response.status_code == 403, (who, method, url, response.status_code)
        assert "Only the security administrator" in response.content.decode()
    assert _snapshot() == before


def test_the_security_admin_alone_sees_the_accounts_link(client, county, secadmin, sysadmin):
    client.force_login(sysadmin)
    assert (
        reverse("accounts:users") not in client.get(reverse("notifications:list")).content.decode()
    )
    client.force_login(secadmin)
    assert reverse("accounts:users") in client.get(reverse("notifications:list")).content.decode()


def test_the_services_refuse_too(county, sysadmin, owner):
    from minqing.accounts.services import admin as services_admin
    from minqing.lib.errors import PermissionDenied

    before = _snapshot()
    with nothing_written(), pytest.raises(PermissionDenied):
        services_admin.user_create(by=sysadmin, username="x")
    with nothing_written(), pytest.raises(PermissionDenied):
        services_admin.role_grant(by=sysadmin, user=owner, role=Role.AUDITOR)
    with nothing_written(), pytest.raises(PermissionDenied):
        services_admin.user_disable(by=owner, user=sysadmin)
    assert _snapshot() == before


# --------------------------------------------------------------------------- the actions


def test_create_shows_a_password_once_that_must_be_changed(client, county, secadmin):
    client.force_login(secadmin)
    response = client.post(
        reverse("accounts:user_create"),
        {"username": " Zhang.San ", "full_name": "张三", "phone": "13812345678"},
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    user = User.objects.get(username="zhang.san")
    assert (user.full_name, user.phone.reveal(), user.roles.count()) == ("张三", "13812345678", 0)
    password = response.context["password"]
    assert password in response.content.decode() and user.check_password(password)
    assert password not in str(list(AuditEvent.objects.values()))
    event = _last("account.create")
    assert (event.user_id_value, event.object_id) == (secadmin.pk, str(user.pk))
    # the person logs in with it and is sent to change it first
    other = client.__class__()
    other.post(reverse("accounts:login"), {"username": "zhang.san", "password": password})
    assert other.get(reverse("notifications:list"))["Location"] == reverse(
        "accounts:password_change"
    )


def test_create_refuses_bad_input_keeps_it_and_writes_nothing(client, county, secadmin, owner):
    client.force_login(secadmin)
    before = _snapshot()
    with nothing_written():
        response = client.post(
            reverse("accounts:user_create"),
            {"username": "OWNER ", "full_name": "王五", "phone": "12345"},
        )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This username is taken." in body
    assert "Phone must be" in body
    assert 'value="王五"' in body and 'value="OWNER "' in body
    assert _snapshot() == before


def test_disable_and_enable_are_audited_and_end_sessions(client, county, secadmin, owner):
    from django.test import Client

    theirs = Client()
    theirs.force_login(owner)
    assert theirs.get(reverse("notifications:list")).status_code == 200
    client.force_login(secadmin)
    client.post(reverse("accounts:user_disable", args=[owner.pk]))
    owner.refresh_from_db()
    assert not owner.is_active
    assert _last("account.disable").user_id_value == secadmin.pk
    assert theirs.get(reverse("notifications:list")).status_code == 302
    client.post(reverse("accounts:user_enable", args=[owner.pk]))
    owner.refresh_from_db()
    assert owner.is_active and _last("account.enable").object_id == str(owner.pk)
    assert theirs.get(reverse("notifications:list")).status_code == 302  # no session comes back


def test_the_security_admin_cannot_disable_themselves(client, county, secadmin):
    client.force_login(secadmin)
    with nothing_written():
        client.post(reverse("accounts:user_disable", args=[secadmin.pk]))
    secadmin.refresh_from_db()
    assert secadmin.is_active and not AuditEvent.objects.filter(action="account.disable").exists()


def test_password_reset(client, county, secadmin, owner):
    client.force_login(secadmin)
    response = client.post(reverse("accounts:user_password_reset", args=[owner.pk]))
    assert response["Cache-Control"] == "no-store"
    password = response.context["password"]
    owner.refresh_from_db()
    assert owner.check_password(password) and not owner.check_password(PASSWORD)
    assert owner.password_changed_at is None
    event = _last("password.reset")
    assert (event.user_id_value, event.object_id) == (secadmin.pk, str(owner.pk))


def test_second_factor_reset(client, county, secadmin, county_user):
    services_otp.otp_enrol_start(user=county_user)
    TotpDevice.objects.filter(user=county_user).update(confirmed_at="2026-12-01T00:00:00Z")
    RecoveryCode.objects.create(user=county_user, code_hash="0" * 64)
    client.force_login(secadmin)
    page = client.get(reverse("accounts:user_detail", args=[county_user.pk])).content.decode()
    assert reverse("accounts:user_otp_reset", args=[county_user.pk]) in page
    client.post(reverse("accounts:user_otp_reset", args=[county_user.pk]))
    assert not TotpDevice.objects.filter(user=county_user).exists()
    assert not RecoveryCode.objects.filter(user=county_user).exists()
    event = _last("otp.reset")
    assert (event.user_id_value, event.object_id) == (secadmin.pk, str(county_user.pk))


def test_grant_and_revoke_are_audited(client, county, secadmin, owner):
    client.force_login(secadmin)
    response = client.post(
        reverse("accounts:role_grant", args=[owner.pk]),
        {"role": Role.PARTY_MEMBER, "node": county.village_b.pk},
    )
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=owner, role=Role.PARTY_MEMBER)
    assert assignment.node == county.village_b
    grant = _last("permission.grant")
    assert grant.user_id_value == secadmin.pk and grant.detail["node"] == county.village_b.pk
    client.post(reverse("accounts:role_revoke", args=[owner.pk, assignment.pk]))
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    revoke = _last("permission.revoke")
    assert (revoke.user_id_value, revoke.object_id) == (secadmin.pk, str(owner.pk))
    assert revoke.detail == {
        "role": "party_member",
        "node": county.village_b.pk,
        "department": None,
    }


def test_a_conflicting_grant_says_why_and_writes_nothing(client, county, secadmin, owner):
    client.force_login(secadmin)
    before = _snapshot()
    with nothing_written():
        response = client.post(
            reverse("accounts:role_grant", args=[owner.pk]), {"role": Role.AUDITOR}
        )
    assert response.status_code == 400
    assert "cannot be combined" in response.content.decode()
    with nothing_written():
        response = client.post(
            reverse("accounts:role_grant", args=[owner.pk]), {"role": Role.GRID_WORKER}
        )
    assert response.status_code == 400 and "needs a place" in response.content.decode()
    assert _snapshot() == before


def test_revoke_of_another_users_assignment_is_404(client, county, secadmin, owner, member):
    client.force_login(secadmin)
    theirs = member.roles.get()
    with nothing_written():
        response = client.post(reverse("accounts:role_revoke", args=[owner.pk, theirs.pk]))
    assert response.status_code == 404
    assert RoleAssignment.objects.filter(pk=theirs.pk).exists()


def test_list_and_search(client, county, secadmin, owner, member):
    client.force_login(secadmin)
    body = client.get(reverse("accounts:users"), {"q": "own"}).content.decode()
    assert ">owner<" in body and ">member<" not in body
    body = client.get(reverse("accounts:users"), {"role": Role.GRID_WORKER}).content.decode()
    assert ">member<" in body and ">owner<" not in body


# --------------------------------------------------------------------------- the command


def _users(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("users", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_creates_grants_revokes_disables_and_audits(county):
    password, _err = _users(
        "create", "li.si", "--full-name", "李四", "--role", "village_cadre", "--node", "王庄村"
    )
    user = User.objects.get(username="li.si")
    assert user.check_password(password.strip())
    assert list(user.roles.values_list("role", "node")) == [("village_cadre", county.village_a.pk)]
    assert _last("account.create").detail == {"user": "li.si", "via": "command"}
    listing, _err = _users("list", "--search", "li.")
    assert listing.startswith("li.si\t李四\tvillage_cadre@王庄村")
    _users("grant", "li.si", "party_member", "--node", str(county.village_b.pk))
    _users("revoke", "li.si", "party_member", "--node", str(county.village_b.pk))
    assert _last("permission.revoke").detail["via"] == "command"
    _users("disable", "li.si")
    user.refresh_from_db()
    assert not user.is_active and "[disabled]" in _users("list")[0]
    _users("enable", "li.si")
    new_password, _err = _users("reset-password", "li.si")
    user.refresh_from_db()
    assert user.is_active and user.check_password(new_password.strip())
    _users("reset-otp", "li.si")
    assert _last("otp.reset").object_id == str(user.pk)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"account.create", "permission.grant", "permission.revoke", "account.disable"} <= actions
    assert {"account.enable", "password.reset", "otp.reset"} <= actions


def test_command_refuses_separation_and_unknown_users(county):
    _users("create", "wang.wu", "--role", "auditor")
    with nothing_written(), pytest.raises(CommandError, match="cannot be combined"):
        _users("grant", "wang.wu", "village_cadre", "--node", "王庄村")
    with nothing_written(), pytest.raises(CommandError, match="No user"):
        _users("disable", "nobody-here")
    assert list(
        RoleAssignment.objects.filter(user__username="wang.wu").values_list("role", flat=True)
    ) == ["auditor"]


def test_granting_a_role_that_needs_the_second_factor_ends_password_only_sessions(
    client, county, secadmin, owner, settings
):
    from django.test import Client

    settings.MINQING_OTP_REQUIRED_ROLES = frozenset({Role.COMMAND_CENTRE})
    theirs = Client()
    theirs.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    assert theirs.get(reverse("notifications:list")).status_code == 200  # a village cadre
    client.force_login(secadmin)
    client.post(
        reverse("accounts:role_grant", args=[owner.pk]),
        {"role": Role.COMMAND_CENTRE, "node": county.county.pk},
    )
    assert owner.roles.filter(role=Role.COMMAND_CENTRE).exists()
    response = theirs.get(reverse("notifications:list"))
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )
    # logging in again now asks for the second factor
    theirs.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    response = theirs.get(reverse("notifications:list"))
    assert response["Location"].startswith(reverse("accounts:otp_verify"))


def test_the_pages_read_in_chinese(client, county, secadmin, owner, settings):
    from django.utils import translation

    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(secadmin)
    pages = {
        reverse("accounts:users"): ["账号管理", "新建账号", "全部角色"],
        reverse("accounts:user_create"): ["新建账号", "创建账号", "首次登录时必须修改"],
        reverse("accounts:user_detail", args=[owner.pk]): ["授予角色", "撤销", "重置密码"],
        reverse("accounts:otp_settings"): ["两步验证", "尚未设置两步验证"],
        reverse("accounts:otp_enrol"): ["设置两步验证", "密钥", "验证码"],
    }
    english = ["Grant a role", "Two-step verification", "Reset password", "New account", "Key"]
    with translation.override("zh-hans"):
        for url, words in pages.items():
            body = client.get(url, headers={"accept-language": "zh-hans"}).content.decode()
            main = body[body.index("<main>") :]
            for word in words:
                assert word in main, (url, word)
            for text in english:
                assert f">{text}<" not in main, (url, text)
