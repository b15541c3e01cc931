import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_record, verify_chain
from minqing.households.services import household_update


def test_chain_verifies_and_detects_an_edited_row(county):
    for i in range(3):
        audit_record(action="test", username=f"u{i}")
    assert verify_chain()[1] is None
    victim = AuditEvent.objects.order_by("id")[2]
    _without_triggers(
        lambda c: c.execute(
            "UPDATE audit_auditevent SET username = %s WHERE id = %s", ["mallory", victim.pk]
        )
    )
    checked, problem = verify_chain()
    assert checked == 2
    assert problem.startswith(f"row {victim.pk}:")
    with pytest.raises(CommandError):
        call_command("verify_audit")


def test_deleted_row_is_detected(county):
    for i in range(3):
        audit_record(action="test", username=f"u{i}")
    victim = AuditEvent.objects.order_by("-id")[1]
    _without_triggers(
        lambda c: c.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    )
    assert verify_chain()[1] is not None


def test_database_refuses_update_and_delete(county):
    audit_record(action="test")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.update(username="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()


def test_failed_audit_write_rolls_back_the_change(county, owner, monkeypatch):
    household = county.household_a1

    def broken(*args, **kwargs):
        raise DatabaseError("audit store unavailable")

    monkeypatch.setattr("minqing.households.services.audit_record", broken)
    with pytest.raises(DatabaseError):
        household_update(
            by=owner,
            household=household,
            data={"address": "新地址"},
            base_version=household.version,
        )
    household.refresh_from_db()
    assert household.address != "新地址"
    assert household.version == 1


def test_only_the_auditor_reads_the_log(client, county, owner, auditor, county_user):
    for user in (owner, county_user):
        client.force_login(user)
        assert client.get(reverse("audit:log")).status_code == 403
    client.force_login(auditor)
    assert client.get(reverse("audit:log")).status_code == 200


def test_login_success_and_failure_are_audited(client, county, owner):
    from minqing.conftest import PASSWORD

    client.post(reverse("accounts:login"), {"username": "owner", "password": "wrong-password-1A"})
    client.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    events = list(AuditEvent.objects.filter(action="login").order_by("id"))
    assert [(e.username, e.success) for e in events] == [("owner", False), ("owner", True)]


def _without_triggers(run):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
        else:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_change")
        run(cursor)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_change")
