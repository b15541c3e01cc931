"""The keyed chain: rows signed as written (no lock), sealed by the worker, anchored outside the
database, checked by ``verify_audit`` (docs/SECURITY-BAR.md §13–14)."""

import importlib
import json
import logging
import stat

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minqing.audit.keys import forget_cached_keys, rotate_audit_key
from minqing.audit.models import AuditEvent, AuditSeal
from minqing.audit.services import anchor_path, audit_record, seal_pending, verify_chain
from minqing.audit.tests.attacks import raw_sql
from minqing.households.services import household_update
from minqing.lib.worker import periodic_jobs, run_job
from minqing.tests.dbstate import nothing_written


def test_rows_are_sealed_in_order_and_verify(county):
    before = AuditEvent.objects.count()
    rows = [audit_record(action="test", username=f"u{i}") for i in range(3)]
    assert verify_chain().ok  # unsealed but fresh: fine
    result = seal_pending()
    assert result == {"sealed": before + 3, "position": before + 3, "refused": []}
    seals = list(AuditSeal.objects.order_by("position"))
    assert [s.event_id for s in seals[-3:]] == [r.pk for r in rows]
    report = verify_chain()
    assert report.ok, report.summary()
    assert (report.sealed, report.unsealed, report.anchors) == (before + 3, 0, 1)
    assert seal_pending()["sealed"] == 0  # nothing new: no seal, no anchor
    assert len(anchor_path().read_text().splitlines()) == 1


def test_writing_a_row_takes_no_lock_and_updates_nothing(county):
    with CaptureQueriesContext(connection) as queries:
        audit_record(action="test", username="u")
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 1
    assert sql[0].startswith("INSERT INTO")
    assert "FOR UPDATE" not in sql[0]


def test_the_worker_seals_and_anchors(county, caplog):
    assert {"audit.seal", "audit.seal_all"} <= {job.name for job in periodic_jobs()}
    audit_record(action="test")
    with caplog.at_level(logging.INFO, logger="minqing.audit"):
        result = run_job("minqing.audit.jobs.seal")
    total = AuditEvent.objects.count()
    assert result == {"sealed": total, "position": total, "refused": []}
    last = AuditSeal.objects.order_by("-position").first()
    line = json.loads(anchor_path().read_text().splitlines()[-1])
    assert (line["position"], line["event"], line["mac"]) == (total, last.event_id, last.mac)
    assert f"position {total}, row {last.event_id}, mac {last.mac}" in caplog.text


def test_key_and_anchor_files_are_private(county, settings):
    audit_record(action="test")
    seal_pending()
    for path in (settings.MINQING_AUDIT_KEY, settings.MINQING_AUDIT_ANCHORS):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_mac_needs_the_key(county, settings, tmp_path):
    audit_record(action="test")
    seal_pending()
    settings.MINQING_AUDIT_KEY = tmp_path / "another_key.json"
    forget_cached_keys()
    report = verify_chain()
    assert not report.ok
    assert any("does not match its MAC" in p for p in report.problems)


def test_a_rotated_key_signs_new_rows_and_old_ones_still_verify(county):
    old = audit_record(action="test")
    seal_pending()
    assert rotate_audit_key() == 2
    new = audit_record(action="test")
    seal_pending()
    assert (AuditEvent.objects.get(pk=old.pk).key_id, new.key_id) == (1, 2)
    assert AuditSeal.objects.get(event=new).key_id == 2
    assert verify_chain().ok


def test_verify_command_seals_then_reports(county):
    audit_record(action="test")
    call_command("verify_audit")
    assert not AuditEvent.objects.filter(seal__isnull=True).exists()
    raw_sql(lambda c: c.execute("UPDATE audit_auditevent SET username = 'mallory'"))
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit")


def test_rows_left_unsealed_are_reported(county):
    with time_machine.travel("2026-11-20 10:00 +0800", tick=False):
        audit_record(action="test")
    with time_machine.travel("2026-11-20 10:09 +0800", tick=False):
        assert verify_chain().ok
    with time_machine.travel("2026-11-20 10:11 +0800", tick=False):
        report = verify_chain()
        assert not report.ok
        assert "written more than 600 s ago are not sealed" in report.problems[-1]


def test_database_refuses_update_and_delete(county):
    audit_record(action="test")
    seal_pending()
    for model in (AuditEvent, AuditSeal):
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.update(key_id=7)
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.all()._raw_delete(model.objects.db)
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as c:
            c.execute("TRUNCATE audit_auditseal, audit_auditevent")


def test_a_second_sealer_cannot_fork_the_chain(county):
    audit_record(action="test")
    seal_pending()
    last = AuditSeal.objects.order_by("-position").first()
    other = audit_record(action="test")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSeal.objects.create(
            position=last.position, event=other, key_id=1, mac="0" * 64, sealed_at=last.sealed_at
        )


def test_a_copied_row_is_refused(county):
    row = audit_record(action="test")
    copy = AuditEvent.objects.get(pk=row.pk)
    copy.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save(force_insert=True)


def test_failed_audit_write_rolls_back_the_change(county, owner, monkeypatch):
    household = county.household_a1

    def broken(*args, **kwargs):
        raise DatabaseError("audit store unavailable")

    monkeypatch.setattr("minqing.households.services.archive.audit_record", broken)
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


def test_the_database_refusing_the_audit_row_rolls_back_the_change(county, owner):
    """docs/SECURITY-BAR.md §14 with a real failure: the database itself refuses the INSERT."""
    household = county.household_a1
    address = household.address
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'audit store full'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION audit_test_refuse() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'audit store full'; END; $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_auditevent "
                "FOR EACH ROW EXECUTE FUNCTION audit_test_refuse()"
            )
    count = AuditEvent.objects.count()
    with pytest.raises(DatabaseError, match="audit store full"):
        household_update(by=owner, household=household, data={"address": "新地址"}, base_version=1)
    household.refresh_from_db()
    assert (household.address, household.version) == (address, 1)
    assert AuditEvent.objects.count() == count


def test_only_the_auditor_reads_the_log(client, county, owner, auditor, county_user):
    for user in (owner, county_user):
        client.force_login(user)
        with nothing_written():
            assert client.get(reverse("audit:log")).status_code == 403
    client.force_login(auditor)
    assert client.get(reverse("audit:log")).status_code == 200


def test_login_success_and_failure_are_audited(client, county, owner):
    from minqing.conftest import PASSWORD

    client.post(reverse("accounts:login"), {"username": "owner", "password": "wrong-password-1A"})
    client.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    events = list(AuditEvent.objects.filter(action="login").order_by("id"))
    assert [(e.username, e.success) for e in events] == [("owner", False), ("owner", True)]
    assert seal_pending()["refused"] == []
    assert verify_chain().ok


def test_dumpdata_and_loaddata_keep_the_chain(county, tmp_path):
    """A backup by dumpdata/loaddata keeps the chain: a round trip broke the old chain (the
    serializer keeps milliseconds of the time it hashed to the microsecond)."""
    audit_record(action="test", detail={"share": 1.5, "村": "王庄村", "rows": [1, 2]})
    seal_pending()
    count = AuditEvent.objects.count()
    dump = tmp_path / "audit.json"
    call_command("dumpdata", "audit", output=str(dump), verbosity=0)

    def wipe_and_put_the_triggers_back(cursor):
        cursor.execute("DELETE FROM audit_auditseal")
        cursor.execute("DELETE FROM audit_auditevent")
        for sql in append_only_triggers():
            cursor.execute(sql)

    raw_sql(wipe_and_put_the_triggers_back)
    assert not verify_chain().ok
    call_command("loaddata", str(dump), verbosity=0)
    report = verify_chain()
    assert report.ok, report.summary()
    assert (report.sealed, report.position) == (count, count)


def append_only_triggers() -> list[str]:
    module = importlib.import_module("minqing.audit.migrations.0002_append_only")
    make = module.sqlite_triggers if connection.vendor == "sqlite" else module.postgres_triggers
    return [sql for table in module.TABLES for sql in make(table)]
