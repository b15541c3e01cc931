"""Background jobs: periodic jobs from settings, one-off jobs by dotted path.

Every job is a plain function named by its dotted path and run through :func:`run_job`, so it
behaves the same on both backends:

- **database loop** (default): ``minqing worker`` runs each due periodic job in its own process,
  sleeping between ticks. Several such processes may run side by side: the jobs are idempotent
  and claim their rows with conditional UPDATEs (docs/SECURITY-BAR.md §19), so nothing here
  coordinates them. :func:`enqueue` runs the job in-process once the caller's transaction commits.
- **redis** (``MINQING_REDIS_URL`` or ``minqing worker --broker redis://…``): jobs go to the RQ
  queue ``MINQING_WORKER_QUEUE`` ("minqing"); every ``minqing worker`` consumes it and also ticks
  the periodic schedule. Each interval is a numbered slot (``int(time / every)``); the worker
  that wins ``SET key NX`` for a job's slot enqueues it, so N workers enqueue it once, and any
  worker can win — there is no leader to lose.

Jobs are looked up by path when they run, never at import time, so a job whose app is not
installed yet is logged and skipped instead of stopping the worker.
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.utils.module_loading import import_string

logger = logging.getLogger("minqing.worker")

DEFAULT_QUEUE = "minqing"
#: How often the loops look at the clock (and at a stop request), in seconds.
TICK_SECONDS = 0.25
#: How long RQ keeps a failed job (RQ's default is a year: a job failing every minute piles up).
FAILURE_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class PeriodicJob:
    """One entry of ``MINQING_PERIODIC_JOBS``: run ``path(**kwargs)`` every ``every`` seconds."""

    name: str
    path: str
    every: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    timeout: int | None = None  # RQ job timeout in seconds (RQ's default when None)


def periodic_jobs(config: dict[str, dict[str, Any]] | None = None) -> list[PeriodicJob]:
    """The periodic jobs of ``config`` (default ``settings.MINQING_PERIODIC_JOBS``)."""
    if config is None:
        config = getattr(settings, "MINQING_PERIODIC_JOBS", {})
    jobs = []
    for name, spec in config.items():
        every = int(spec["every"])
        if every < 1:
            raise ValueError(f"periodic job {name!r}: 'every' must be at least 1 second")
        jobs.append(
            PeriodicJob(
                name=name,
                path=spec["path"],
                every=every,
                kwargs=dict(spec.get("kwargs", {})),
                timeout=spec.get("timeout"),
            )
        )
    return jobs


def importable(jobs: Iterable[PeriodicJob]) -> list[PeriodicJob]:
    """The jobs whose function can be imported; each other one is logged once and skipped."""
    found = []
    for job in jobs:
        try:
            import_string(job.path)
        except ImportError as exc:
            logger.warning("job %s skipped: cannot import %s (%s)", job.name, job.path, exc)
        else:
            found.append(job)
    return found


def run_job(path: str, kwargs: dict[str, Any] | None = None, *, label: str = "") -> Any:
    """Import ``path`` and call it with ``kwargs``; log one line (job, duration, result).

    A failure is logged with its traceback and raised again (RQ records it as failed; the
    database loop goes on with the next job).
    """
    name = label or path
    started = time.monotonic()
    try:
        result = import_string(path)(**(kwargs or {}))
    except Exception:
        logger.exception("job %s failed after %.3f s", name, time.monotonic() - started)
        raise
    logger.info("job %s done in %.3f s: %s", name, time.monotonic() - started, result)
    return _plain(result)


def _plain(result: Any) -> Any:
    """The result as JSON data (RQ stores it with the JSON serializer)."""
    try:
        return json.loads(json.dumps(result, default=str))
    except ValueError:
        return str(result)


def _run_quietly(path: str, kwargs: dict[str, Any], label: str = "") -> bool:
    """run_job for callers that must not fail: the error is already logged by run_job."""
    try:
        run_job(path, kwargs, label=label)
    except Exception:
        return False
    return True


# --- one-off jobs -------------------------------------------------------------------------


def enqueue(path: str, *, job_timeout: int | None = None, **kwargs: Any) -> None:
    """Run the job ``path(**kwargs)`` in the background once the current transaction commits.

    With ``MINQING_REDIS_URL`` it goes to the RQ queue (a worker runs it, for at most
    ``job_timeout`` seconds: RQ's default of 180 when None); without, it runs in this process
    right after the commit. Nothing runs when the transaction rolls back. If Redis cannot be
    reached at commit time, the job runs in-process instead (logged).
    """
    transaction.on_commit(partial(_dispatch, path, kwargs, job_timeout))


def _dispatch(path: str, kwargs: dict[str, Any], job_timeout: int | None = None) -> None:
    url = redis_url()
    if url:
        try:
            RedisBroker.for_url(url, queue_name=queue_name()).enqueue(
                path, kwargs, timeout=job_timeout
            )
            return
        except Exception:
            logger.exception("job %s: cannot enqueue to Redis, running it here", path)
    _run_quietly(path, kwargs)


def redis_url() -> str:
    return getattr(settings, "MINQING_REDIS_URL", "") or ""


def queue_name() -> str:
    return getattr(settings, "MINQING_WORKER_QUEUE", DEFAULT_QUEUE) or DEFAULT_QUEUE


# --- stopping on a signal -----------------------------------------------------------------


class StopFlag:
    """SIGTERM/SIGINT ask to stop after the current job; another one 2 s later stops at once
    (a Ctrl-C in a terminal and the parent's SIGTERM arrive together and count as one)."""

    def __init__(self) -> None:
        self.requested = False
        self._first = 0.0

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if not self.requested:
            self.requested = True
            self._first = time.monotonic()
            logger.info("worker: %s, stopping after the current job", name)
        elif time.monotonic() - self._first > 2:
            logger.warning("worker: %s again, stopping now", name)
            raise SystemExit(1)

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early when a stop is requested."""
        deadline = time.monotonic() + seconds
        while not self.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(TICK_SECONDS, left))


def fresh_connections() -> None:
    """Drop stale database connections, as Django does around each request — but never inside
    a transaction (the caller's, or a test's)."""
    if not any(c.in_atomic_block for c in connections.all(initialized_only=True)):
        close_old_connections()


# --- the database loop --------------------------------------------------------------------


def run_due(jobs: list[PeriodicJob], next_due: dict[str, float], stop: StopFlag) -> int:
    """Run every job whose time has come (monotonic clock); returns how many ran."""
    ran = 0
    for job in jobs:
        if stop.requested:
            break
        started = time.monotonic()
        if next_due.get(job.name, 0.0) > started:
            continue
        fresh_connections()
        try:
            _run_quietly(job.path, job.kwargs, label=job.name)
        finally:
            fresh_connections()
        next_due[job.name] = max(started + job.every, time.monotonic())
        ran += 1
    return ran


def run_loop(jobs: list[PeriodicJob], *, once: bool = False, stop: StopFlag | None = None) -> None:
    """The database-loop worker: run each due job in this process until asked to stop."""
    stop = stop or StopFlag()
    jobs = importable(jobs)
    next_due: dict[str, float] = {}
    logger.info("worker (database loop): %s", ", ".join(j.name for j in jobs) or "no jobs")
    while not stop.requested:
        run_due(jobs, next_due, stop)
        if once:
            return
        wake = min(next_due.values(), default=time.monotonic() + 60)
        stop.sleep(wake - time.monotonic())


# --- the redis backend --------------------------------------------------------------------


class RedisBroker:
    """An RQ queue plus the keys of the periodic schedule, on one Redis connection."""

    _instances: dict[tuple[str, str], RedisBroker] = {}

    def __init__(self, url: str, *, queue_name: str = DEFAULT_QUEUE) -> None:
        import redis
        from rq import Queue
        from rq.serializers import JSONSerializer

        self.url = url
        self.connection = redis.Redis.from_url(url)
        self.queue_name = queue_name
        # JSON, not pickle: a job read from Redis must not be able to run arbitrary code.
        self.queue = Queue(queue_name, connection=self.connection, serializer=JSONSerializer)

    @classmethod
    def for_url(cls, url: str, *, queue_name: str = DEFAULT_QUEUE) -> RedisBroker:
        """One broker (and connection pool) per URL and queue in this process."""
        key = (url, queue_name)
        if key not in cls._instances:
            cls._instances[key] = cls(url, queue_name=queue_name)
        return cls._instances[key]

    def enqueue(
        self,
        path: str,
        kwargs: dict[str, Any] | None = None,
        *,
        label: str = "",
        timeout: int | None = None,
    ) -> Any:
        """Put ``run_job(path, kwargs)`` on the queue; returns the RQ job."""
        return self.queue.enqueue_call(
            run_job,
            args=(path, kwargs or {}),
            kwargs={"label": label},
            timeout=timeout,
            description=label or path,
            failure_ttl=FAILURE_TTL,
            job_id=f"{self.queue_name}-{uuid.uuid4().hex}",
        )

    def slot_key(self, job: PeriodicJob, slot: int) -> str:
        return f"{self.queue_name}:periodic:{job.name}:{job.every}:{slot}"

    def claim_slot(self, job: PeriodicJob, slot: int) -> bool:
        """True for exactly one caller per job and slot, whichever worker asks first."""
        return bool(
            self.connection.set(self.slot_key(job, slot), "1", nx=True, ex=2 * job.every + 60)
        )

    def worker(self, *, name: str | None = None) -> Any:
        return worker_class()(
            [self.queue],
            connection=self.connection,
            serializer=self.queue.serializer,
            name=name or f"{self.queue_name}-{uuid.uuid4().hex[:12]}",
        )


class Scheduler:
    """Enqueues each periodic job once per interval slot, across any number of workers."""

    def __init__(
        self, broker: RedisBroker, jobs: list[PeriodicJob], clock: Callable[[], float] = time.time
    ) -> None:
        self.broker = broker
        self.jobs = jobs
        self.clock = clock
        self._last_slot: dict[str, int] = {}  # saves a Redis round trip per job per tick

    def tick(self) -> list[str]:
        """Enqueue the jobs whose slot this worker won; returns their names."""
        now = self.clock()
        enqueued = []
        for job in self.jobs:
            slot = int(now // job.every)
            if self._last_slot.get(job.name) == slot:
                continue
            if self.broker.claim_slot(job, slot):
                self.broker.enqueue(job.path, job.kwargs, label=job.name, timeout=job.timeout)
                enqueued.append(job.name)
            self._last_slot[job.name] = slot
        return enqueued

    def run(self, stopped: threading.Event) -> None:
        while not stopped.is_set():
            try:
                self.tick()
            except Exception:  # Redis away for a moment: the next tick tries again
                logger.exception("worker: scheduler tick failed")
            stopped.wait(1.0)


@functools.cache
def worker_class() -> type:
    """An RQ ``SimpleWorker`` for Django (rq is imported here: the database loop needs none)."""
    from rq import SimpleWorker

    class DjangoSimpleWorker(SimpleWorker):
        """Runs jobs in this process (a forked child would share the parent's database
        connection) with fresh database connections around each job, as around a request."""

        def perform_job(self, job: Any, queue: Any, execution: Any) -> bool:
            fresh_connections()
            try:
                return super().perform_job(job, queue, execution)
            finally:
                fresh_connections()

    return DjangoSimpleWorker


def run_redis(
    broker: RedisBroker,
    jobs: list[PeriodicJob],
    *,
    once: bool = False,
    stop: StopFlag | None = None,
) -> None:
    """Consume the queue and tick the periodic schedule until SIGTERM/SIGINT (RQ's own warm
    shutdown: the current job finishes). ``once``: tick, drain the queue, return."""
    jobs = importable(jobs)
    scheduler = Scheduler(broker, jobs)
    worker = broker.worker()
    logger.info(
        "worker (redis, queue %s): %s", broker.queue_name, ", ".join(j.name for j in jobs) or "-"
    )
    if stop is not None and stop.requested:  # asked to stop while starting up
        return
    if once:
        scheduler.tick()
        worker.work(burst=True, logging_level="WARNING")
        return
    stopped = threading.Event()
    ticker = threading.Thread(
        target=scheduler.run, args=(stopped,), name="minqing-scheduler", daemon=True
    )
    ticker.start()
    try:
        worker.work(logging_level="INFO")
    finally:
        stopped.set()
        ticker.join(timeout=5)
