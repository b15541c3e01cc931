"""The background worker (minqing.lib.worker, ``minqing worker``): both backends."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from minqing.lib import worker

HERE = "minqing.notifications.tests.test_worker"
CALLS: list[dict] = []


def count_call(**kwargs) -> dict:
    """A dummy job: records each call in this process."""
    CALLS.append(kwargs)
    return {"calls": len(CALLS)}


def fail() -> dict:
    raise RuntimeError("this job always fails")


def touch_marker() -> dict:
    """A dummy job for the subprocess test: appends a line to $MINQING_TEST_MARKER."""
    path = Path(os.environ["MINQING_TEST_MARKER"])
    with path.open("a") as f:
        f.write("ran\n")
    return {"lines": len(path.read_text().splitlines())}


@pytest.fixture(autouse=True)
def _fresh(settings, db):
    """No Redis unless a test asks; signal handlers as pytest had them; no recorded calls."""
    settings.MINQING_REDIS_URL = ""
    CALLS.clear()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def jobs(**specs: tuple[str, int]) -> dict:
    return {name: {"path": path, "every": every} for name, (path, every) in specs.items()}


# --- database loop ------------------------------------------------------------------------


def test_once_runs_each_job_exactly_once_and_logs_a_line(settings, caplog):
    settings.MINQING_PERIODIC_JOBS = jobs(dummy=(f"{HERE}.count_call", 3600))
    with caplog.at_level(logging.INFO, logger="minqing.worker"):
        call_command("worker", "--once")
    assert CALLS == [{}]
    done = [r.getMessage() for r in caplog.records if "job dummy done" in r.getMessage()]
    assert len(done) == 1
    assert done[0].endswith(": {'calls': 1}")


def test_unimportable_job_is_logged_and_skipped(settings, caplog):
    settings.MINQING_PERIODIC_JOBS = jobs(
        missing=("minqing.no_such_app.jobs.sweep", 60), dummy=(f"{HERE}.count_call", 60)
    )
    with caplog.at_level(logging.INFO, logger="minqing.worker"):
        call_command("worker", "--once")
    assert CALLS == [{}]
    skipped = [r for r in caplog.records if "job missing skipped" in r.getMessage()]
    assert len(skipped) == 1
    assert skipped[0].levelno == logging.WARNING
    assert "minqing.no_such_app.jobs.sweep" in skipped[0].getMessage()


def test_the_deadline_sweep_is_registered():
    from django.conf import settings

    sweep = settings.MINQING_PERIODIC_JOBS["issues.sweep_deadlines"]
    every = int(os.environ.get("MINQING_SWEEP_SECONDS", "60"))
    assert sweep == {"path": "minqing.issues.jobs.sweep_deadlines", "every": every}


def test_failing_job_is_logged_with_traceback_and_the_next_job_runs(settings, caplog):
    settings.MINQING_PERIODIC_JOBS = jobs(
        broken=(f"{HERE}.fail", 60), dummy=(f"{HERE}.count_call", 60)
    )
    with caplog.at_level(logging.INFO, logger="minqing.worker"):
        call_command("worker", "--once")
    assert CALLS == [{}]
    failed = [r for r in caplog.records if "job broken failed" in r.getMessage()]
    assert len(failed) == 1
    assert failed[0].exc_info[0] is RuntimeError


def test_a_job_runs_again_only_when_its_interval_has_passed():
    job = worker.PeriodicJob(name="dummy", path=f"{HERE}.count_call", every=60)
    next_due: dict[str, float] = {}
    stop = worker.StopFlag()
    assert worker.run_due([job], next_due, stop) == 1
    assert worker.run_due([job], next_due, stop) == 0
    assert len(CALLS) == 1
    next_due["dummy"] = time.monotonic() - 1  # the minute has passed
    assert worker.run_due([job], next_due, stop) == 1
    assert len(CALLS) == 2


def test_stop_request_ends_the_loop_before_the_next_job():
    stop = worker.StopFlag()
    stop.requested = True
    job = worker.PeriodicJob(name="dummy", path=f"{HERE}.count_call", every=1)
    worker.run_loop([job], stop=stop)
    assert CALLS == []


def test_enqueue_without_redis_runs_after_commit_only(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        worker.enqueue(f"{HERE}.count_call", n=1)
        assert CALLS == []  # not before the commit
    assert len(callbacks) == 1
    assert CALLS == [{"n": 1}]


def test_enqueue_runs_nothing_when_the_transaction_rolls_back(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            worker.enqueue(f"{HERE}.count_call", n=1)
            raise RuntimeError("roll back")
    assert callbacks == []
    assert CALLS == []


def test_enqueue_without_redis_logs_a_failure_and_does_not_raise(
    db, django_capture_on_commit_callbacks, caplog
):
    with django_capture_on_commit_callbacks(execute=True), caplog.at_level(logging.ERROR):
        worker.enqueue(f"{HERE}.fail")
    assert [r.getMessage() for r in caplog.records][-1].startswith(f"job {HERE}.fail failed")


def test_bad_broker_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="redis://"):
        call_command("worker", "--once", "--broker", "amqp://localhost")


# --- redis backend ------------------------------------------------------------------------

REDIS_URL = os.environ.get("MINQING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_queue(settings):
    """A queue name (and key prefix) of this test alone on the real Redis; its keys are
    removed afterwards, nobody else's."""
    import redis

    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        conn.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc}); set MINQING_TEST_REDIS_URL")
    name = f"minqing-test-{uuid.uuid4().hex[:12]}"
    settings.MINQING_WORKER_QUEUE = name
    yield name
    for key in conn.scan_iter(match=f"*{name}*"):
        conn.delete(key)
    conn.srem("rq:queues", f"rq:queue:{name}")
    for member in conn.smembers("rq:workers"):
        if name in member.decode():
            conn.srem("rq:workers", member)
    worker.RedisBroker._instances.clear()
    conn.close()


def test_two_workers_ticking_in_one_interval_enqueue_the_job_once(redis_queue):
    job = worker.PeriodicJob(name="dummy", path=f"{HERE}.count_call", every=60)
    # two worker processes: each its own connection and scheduler, same clock slot
    first = worker.RedisBroker(REDIS_URL, queue_name=redis_queue)
    second = worker.RedisBroker(REDIS_URL, queue_name=redis_queue)
    at = 1_000_000 * 60 + 5.0
    tick_1 = worker.Scheduler(first, [job], clock=lambda: at)
    tick_2 = worker.Scheduler(second, [job], clock=lambda: at + 30)
    assert tick_1.tick() + tick_2.tick() == ["dummy"]
    assert tick_1.tick() + tick_2.tick() == []
    assert first.queue.count == 1

    assert first.worker().work(burst=True) is True
    assert CALLS == [{}]
    assert first.queue.count == 0

    # the next interval: enqueued once more, by whichever worker ticks first
    later = worker.Scheduler(second, [job], clock=lambda: at + 60)
    assert later.tick() == ["dummy"]
    assert worker.Scheduler(first, [job], clock=lambda: at + 61).tick() == []
    assert first.queue.count == 1


def test_rq_worker_executes_the_job_and_keeps_its_result(redis_queue):
    broker = worker.RedisBroker(REDIS_URL, queue_name=redis_queue)
    job = broker.enqueue(f"{HERE}.count_call", {"n": 7}, label="dummy")
    from rq import SimpleWorker

    assert isinstance(broker.worker(), SimpleWorker)
    broker.worker().work(burst=True)
    assert CALLS == [{"n": 7}]
    job.refresh()
    assert job.is_finished
    assert job.return_value() == {"calls": 1}


def test_enqueue_with_redis_goes_to_the_queue_after_commit(
    settings, redis_queue, db, django_capture_on_commit_callbacks
):
    settings.MINQING_REDIS_URL = REDIS_URL
    broker = worker.RedisBroker.for_url(REDIS_URL, queue_name=redis_queue)
    with django_capture_on_commit_callbacks(execute=True):
        worker.enqueue(f"{HERE}.count_call", n=2)
        assert broker.queue.count == 0
    assert broker.queue.count == 1
    assert CALLS == []  # a worker runs it, not the caller
    broker.worker().work(burst=True)
    assert CALLS == [{"n": 2}]


def test_worker_once_with_redis_enqueues_and_drains(settings, redis_queue):
    settings.MINQING_PERIODIC_JOBS = jobs(
        dummy=(f"{HERE}.count_call", 3600), missing=("minqing.no_such_app.jobs.x", 60)
    )
    call_command("worker", "--once", "--broker", REDIS_URL)
    assert CALLS == [{}]
    # a second worker in the same interval finds the slot taken: nothing runs twice
    call_command("worker", "--once", "--broker", REDIS_URL)
    assert CALLS == [{}]


# --- the real process ---------------------------------------------------------------------


@pytest.mark.slow
def test_worker_process_runs_jobs_and_stops_cleanly_on_sigterm(tmp_path):
    marker = tmp_path / "marker"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "minqing.notifications.tests.worker_settings",
        "MINQING_DATA_DIR": str(tmp_path / "data"),
        "MINQING_TEST_MARKER": str(marker),
        "MINQING_REDIS_URL": "",
    }
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "minqing", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and proc.poll() is None:
            if marker.exists() and len(marker.read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        assert len(marker.read_text().splitlines()) >= 2  # ran, and ran again a second later
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "job test.touch done in" in err
    assert "SIGTERM, stopping after the current job" in err


# --- the demo starts and stops the worker ---------------------------------------------------


def test_demo_serves_with_a_worker_and_stops_it(monkeypatch, tmp_path):
    from minqing.demo.management.commands import demo

    started: list[FakeProcess] = []

    class FakeProcess:
        def __init__(self, cmd, env, stdout=None, stderr=None):
            self.cmd, self.env, self.signals, self.returncode = cmd, env, [], None
            self.stdout = stdout
            started.append(self)

        def poll(self):
            return self.returncode

        def wait(self, timeout=None):
            if self is started[0]:
                self.returncode = 0  # the web server stops
            return self.returncode

        def send_signal(self, sig):
            self.signals.append(sig)
            self.returncode = 0

        def kill(self):  # pragma: no cover - only when a child ignores SIGTERM
            raise AssertionError("killed")

    monkeypatch.setattr(demo.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(demo, "_wait_ready", lambda port, proc: True)
    said: list[str] = []
    demo.serve(8123, 1, logs=tmp_path / "logs", banner="LOGINS", write=said.append)
    server, background = started
    assert background.cmd[1:] == ["-m", "minqing", "worker"]
    assert background.env["MINQING_DEMO"] == "1"
    assert background.signals == [signal.SIGTERM]
    # Their lines go to log files, not over the logins, which are the last thing said.
    assert server.stdout.name == str(tmp_path / "logs" / "server.log")
    assert background.stdout.name == str(tmp_path / "logs" / "worker.log")
    assert said == ["LOGINS"]
