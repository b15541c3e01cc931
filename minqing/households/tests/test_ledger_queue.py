"""A ledger import runs in the background worker, so it cannot block the county's writers.

Written in short batches with pauses, a 24,000-row ledger takes minutes: inside the web request
gunicorn's 30 s timeout cut it off part-way. The page's "Import" now queues it (audited) and
returns at once; the worker (``households.run_queued_imports``, or the job Redis runs) claims it
queued → running, so it runs once, writes it and records the result; an import whose worker died
is failed after ``STALE_RUN`` and continues when imported again. The page shows the state and
households done of total, and refreshes itself while the import waits or runs.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from minqing.accounts.models import Role, RoleAssignment
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.households.jobs import run_import, run_queued_imports
from minqing.households.ledger import importer
from minqing.households.ledger.importer import (
    IMPORT_JOB,
    IMPORT_JOB_TIMEOUT,
    STALE_RUN,
    ImportRefused,
    ledger_check,
    ledger_queue,
)
from minqing.households.models import Household, LedgerImport, Resident
from minqing.households.tests.ledger_helpers import COL, make_ledger, xlsx_bytes
from minqing.households.tests.writes import writes
from minqing.lib.errors import PermissionDenied
from minqing.org.services import recount_tree

START = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _english_and_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.MINQING_REDIS_URL = ""
    with translation.override("en"):
        yield


@pytest.fixture
def no_pause(monkeypatch):
    monkeypatch.setattr(importer, "BATCH_PAUSE_S", 0)


def checked_ledger(county, owner, rows: int = 300):
    ledger = make_ledger(rows)
    checked = ledger_check(
        by=owner, node=county.village_a, filename="台账.xlsx", data=xlsx_bytes(ledger.rows)
    )
    return ledger, checked


def report_url(checked) -> str:
    return reverse("ledger:report", kwargs={"pk": checked.pk})


def test_import_button_queues_and_returns_at_once_then_the_job_writes_it(
    client, county, owner, no_pause
):
    ledger, checked = checked_ledger(county, owner)
    households, residents = Household.objects.count(), Resident.objects.count()
    client.force_login(owner)
    answer = client.post(report_url(checked), {"action": "import"})
    assert answer.status_code == 302 and answer["Location"] == report_url(checked)
    # nothing written in the request: the worker writes it
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.QUEUED and checked.valid_only is False
    assert checked.queued_at is not None
    assert (Household.objects.count(), Resident.objects.count()) == (households, residents)
    assert not AuditEvent.objects.filter(action="ledger.import").exists()
    (queued,) = AuditEvent.objects.filter(action="ledger.import_queue")
    assert (queued.user_id_value, queued.username) == (owner.pk, "owner")
    assert queued.detail == {"ledger_import": checked.pk, "file": "台账.xlsx", "valid_only": False}
    page = client.get(report_url(checked)).content.decode()
    assert "The import is queued" in page
    assert "Waiting for the background worker; this page refreshes by itself." in page
    assert f'hx-get="{report_url(checked)}" hx-trigger="every 3s"' in page
    assert 'name="action"' not in page  # no second "Import" while it waits
    # pressing again while it waits queues nothing more
    before = writes()
    assert client.post(report_url(checked), {"action": "import"}).status_code == 400
    assert writes() == before
    assert AuditEvent.objects.filter(action="ledger.import_queue").count() == 1

    assert run_queued_imports() == {
        "imported": 1,
        "failed": 0,
        "claimed_elsewhere": 0,
        "abandoned": 0,
    }
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.IMPORTED
    assert Household.objects.count() == households + len(ledger.households)
    assert Resident.objects.count() == residents + 300
    assert checked.report["result"]["households"] == {
        "create": len(ledger.households),
        "update": 0,
        "unchanged": 0,
    }
    audits = AuditEvent.objects.filter(action="ledger.import")
    assert {a.username for a in audits} == {"owner"}  # written as the user who queued it
    assert recount_tree() == 0
    page = client.get(report_url(checked)).content.decode()
    assert "Imported" in page and "hx-get" not in page
    assert run_queued_imports()["imported"] == 0  # never twice


def test_two_workers_claiming_the_same_import_run_it_once(client, county, owner, no_pause):
    ledger, checked = checked_ledger(county, owner, rows=200)
    ledger_queue(by=owner, ledger_import=checked)
    real = importer.households_import
    second = []

    def another_worker_meanwhile(**kwargs):
        if not second:  # the Redis job and the periodic job both try while the first writes
            second.append(run_import(checked.pk))
            second.append(run_queued_imports())
        return real(**kwargs)

    importer.households_import = another_worker_meanwhile
    try:
        first = run_import(checked.pk)
    finally:
        importer.households_import = real
    assert first == {"imported": 1, "failed": 0, "claimed_elsewhere": 0}
    assert second == [
        {"imported": 0, "failed": 0, "claimed_elsewhere": 1},
        {"imported": 0, "failed": 0, "claimed_elsewhere": 0, "abandoned": 0},
    ]
    assert Household.objects.filter(number__startswith="L").count() == len(ledger.households)
    assert run_import(checked.pk)["claimed_elsewhere"] == 1
    checked.refresh_from_db()
    assert checked.report["progress"]["runs"] == 1


class _WorkerKilled(BaseException):
    """The worker's process ends here (SIGKILL, power cut): no cleanup runs."""


def test_a_stale_running_import_is_failed_and_can_be_continued(
    client, county, owner, monkeypatch, no_pause
):
    ledger, checked = checked_ledger(county, owner, rows=600)
    households = Household.objects.count()
    with time_machine.travel(START, tick=False):
        client.force_login(owner)
        assert client.post(report_url(checked), {"action": "import"}).status_code == 302
        real = importer.households_import
        calls = []

        def dies_in_the_third_batch(**kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise _WorkerKilled
            return real(**kwargs)

        monkeypatch.setattr(importer, "households_import", dies_in_the_third_batch)
        monkeypatch.setattr(importer, "_fail", lambda *a, **k: None)  # a dead process marks nothing
        with pytest.raises(_WorkerKilled):
            run_queued_imports()
        monkeypatch.undo()
        monkeypatch.setattr(importer, "BATCH_PAUSE_S", 0)
        checked.refresh_from_db()
        progress = checked.report["progress"]
        done, total = progress["households_done"], progress["households"]
        assert checked.status == LedgerImport.Status.RUNNING
        assert 0 < done < total == len(ledger.households)
        assert Household.objects.count() == households + done
        # the page shows how far it got and keeps asking
        page = client.get(report_url(checked)).content.decode()
        assert f"Being imported: {done} of {total} households so far." in page
        assert f'<progress class="import-progress" value="{done}" max="{total}">' in page
        assert "hx-trigger" in page
        # the refresh answers the state alone, without the page around it
        part = client.get(report_url(checked), headers={"HX-Request": "true"}).content.decode()
        assert part.startswith('<section id="ledger-state"') and "<html" not in part
        assert f"Being imported: {done} of {total} households so far." in part
        # while it may still be alive, it is neither failed nor queued again
        assert run_queued_imports()["abandoned"] == 0
        answer = client.post(report_url(checked), {"action": "import"})
        assert answer.status_code == 400
        assert "being imported right now" in answer.content.decode()

    with time_machine.travel(START + STALE_RUN + dt.timedelta(seconds=1), tick=False):
        client.force_login(owner)
        assert run_queued_imports()["abandoned"] == 1
        checked.refresh_from_db()
        assert checked.status == LedgerImport.Status.FAILED
        assert checked.report["failure"]["code"] == "abandoned"
        page = client.get(report_url(checked)).content.decode()
        assert (
            f"The background worker stopped during the import. {done} of {total} households "
            "were imported; the others were not."
        ) in page
        assert 'value="import"' in page and "hx-trigger" not in page
        assert client.post(report_url(checked), {"action": "import"}).status_code == 302
        assert run_queued_imports()["imported"] == 1
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.IMPORTED
    assert checked.report["progress"]["runs"] == 2
    # every household once: those of the dead run were found, not duplicated
    assert Household.objects.count() == households + total
    assert checked.report["result"]["households"] == {"create": total, "update": 0, "unchanged": 0}
    assert recount_tree() == 0


def test_a_run_failed_as_abandoned_that_wakes_up_writes_no_more(county, owner, no_pause):
    """A worker thought dead (stopped for longer than STALE_RUN) comes back: its next batch
    finds the import is no longer its own and writes nothing."""
    ledger, checked = checked_ledger(county, owner, rows=1000)
    ledger_queue(by=owner, ledger_import=checked)
    real = importer.households_import
    calls = []

    def stalls_then_wakes(**kwargs):
        calls.append(1)
        if len(calls) == 2:  # meanwhile the import is found stale and failed
            LedgerImport.objects.filter(pk=checked.pk).update(
                progress_at=timezone.now() - STALE_RUN - dt.timedelta(seconds=1)
            )
            assert importer.expire_stale() == 1
        return real(**kwargs)

    importer.households_import = stalls_then_wakes
    try:
        assert run_import(checked.pk)["claimed_elsewhere"] == 1
    finally:
        importer.households_import = real
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.FAILED
    # the batch under way when it was failed ends; the next one finds the import failed and
    # writes nothing
    progress = checked.report["progress"]
    assert progress["batches_done"] == 2 and progress["households_done"] < len(ledger.households)
    assert Household.objects.filter(number__startswith="L").count() == progress["households_done"]
    assert len(calls) == 2


def test_the_worker_checks_the_whole_file_again_and_writes_nothing_when_it_has_errors(
    client, county, owner
):
    """Checked clean, queued, then one of its ID numbers is registered elsewhere before the
    worker takes it: the worker's check finds it, and nothing is written."""
    ledger, checked = checked_ledger(county, owner, rows=100)
    ledger_queue(by=owner, ledger_import=checked)
    other = county.resident_b1
    other.id_number = ledger.rows[-1][COL["身份证号"]]
    other.save()
    before = Household.objects.count()
    assert run_queued_imports()["failed"] == 1
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.FAILED
    assert checked.report["failure"]["code"] == "errors"
    assert len(checked.report["errors"]) == 1
    assert Household.objects.count() == before
    assert not AuditEvent.objects.filter(action="ledger.import").exists()
    client.force_login(owner)
    page = client.get(report_url(checked)).content.decode()
    assert "The file has errors, so nothing was imported." in page
    assert 'value="valid_only"' in page and 'value="import"' not in page


def test_queueing_asks_for_the_archive_edit_right_here(client, county, owner, member):
    """A representative of the village may read it but not edit its archive: 403, nothing
    queued; the import's owner only (another cadre: 404)."""
    _ledger, checked = checked_ledger(county, owner, rows=20)
    representative = make_user("rep", Role.REPRESENTATIVE, county.village_a)
    # the checked import is the owner's; even if it were handed over, the right is asked here
    LedgerImport.objects.filter(pk=checked.pk).update(user=representative)
    client.force_login(representative)
    before = writes()
    assert client.post(report_url(checked), {"action": "import"}).status_code == 403
    assert writes() == before
    checked.refresh_from_db()
    with pytest.raises(PermissionDenied):
        ledger_queue(by=representative, ledger_import=checked)
    assert checked.status == LedgerImport.Status.CHECKED
    assert not AuditEvent.objects.filter(action="ledger.import_queue").exists()
    colleague = make_user("colleague", Role.VILLAGE_CADRE, county.village_a)
    with pytest.raises(LedgerImport.DoesNotExist):
        ledger_queue(by=colleague, ledger_import=checked)


@pytest.mark.parametrize("how", ["role revoked", "account disabled"])
def test_the_job_checks_again_that_the_user_still_may(county, owner, how):
    _ledger, checked = checked_ledger(county, owner, rows=50)
    ledger_queue(by=owner, ledger_import=checked)
    before = Household.objects.count()
    if how == "role revoked":
        RoleAssignment.objects.filter(user=owner).delete()
    else:
        owner.is_active = False
        owner.save(update_fields=["is_active"])
    assert run_queued_imports()["failed"] == 1
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.FAILED
    assert checked.report["failure"]["code"] == "not_allowed"
    assert Household.objects.count() == before
    assert not AuditEvent.objects.filter(action="ledger.import").exists()
    assert importer.failure_message(checked) == (
        "Your role may no longer import household ledgers here."
    )


def test_queueing_a_file_with_errors_is_refused_unless_valid_rows_only(county, owner):
    ledger = make_ledger(30)
    ledger.rows[1][COL["姓名"]] = ""
    checked = ledger_check(
        by=owner, node=county.village_a, filename="a.xlsx", data=xlsx_bytes(ledger.rows)
    )
    with pytest.raises(ImportRefused) as refused:
        ledger_queue(by=owner, ledger_import=checked)
    assert refused.value.message.startswith("The file has errors, so nothing was imported.")
    checked.refresh_from_db()
    assert checked.status == LedgerImport.Status.CHECKED
    queued = ledger_queue(by=owner, ledger_import=checked, valid_only=True)
    assert (queued.status, queued.valid_only) == (LedgerImport.Status.QUEUED, True)


def test_with_redis_the_job_is_enqueued_after_the_commit_with_a_long_timeout(
    county, owner, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from minqing.lib import worker

    sent = []

    class Broker:
        def enqueue(self, path, kwargs, timeout=None):
            sent.append((path, kwargs, timeout))

    monkeypatch.setattr(worker.RedisBroker, "for_url", classmethod(lambda cls, *a, **k: Broker()))
    settings.MINQING_REDIS_URL = "redis://127.0.0.1:1/0"
    _ledger, checked = checked_ledger(county, owner, rows=20)
    with django_capture_on_commit_callbacks(execute=True):
        ledger_queue(by=owner, ledger_import=checked)
    assert sent == [(IMPORT_JOB, {"ledger_import_id": checked.pk}, IMPORT_JOB_TIMEOUT)]
    assert IMPORT_JOB_TIMEOUT >= 3600
    settings.MINQING_REDIS_URL = ""
    # the periodic job is the safety net, and the job path is the one enqueued
    assert run_import.__module__ + ".run_import" == IMPORT_JOB
    assert settings.MINQING_PERIODIC_JOBS["households.run_queued_imports"] == {
        "path": "minqing.households.jobs.run_queued_imports",
        "every": 5,
        "timeout": 3 * 3600,
    }
