"""``minqing worker``: run the periodic jobs and the background queue (see minqing.lib.worker).

The command lives in the notifications app because ``minqing.lib`` is not an installed app.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minqing.lib import worker


class Command(BaseCommand):
    help = (
        "Run the background worker: periodic jobs (MINQING_PERIODIC_JOBS) and queued jobs. "
        "Database loop by default; an RQ worker plus scheduler with MINQING_REDIS_URL or "
        "--broker redis://… . SIGTERM/SIGINT finish the current job and exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="run every periodic job once and exit (with Redis: enqueue them and drain the "
            "queue)",
        )
        parser.add_argument(
            "--broker",
            default=None,
            help="redis://host:port/db to use RQ, or 'database' for the in-process loop "
            "(default: MINQING_REDIS_URL if set, else the database loop)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] >= 1:
            # One line per job run; the project's root logger only shows warnings by default.
            for name in ("minqing.worker", "minqing.notifications"):
                log = logging.getLogger(name)
                if log.getEffectiveLevel() > logging.INFO:
                    log.setLevel(logging.INFO)
        stop = worker.StopFlag()  # RQ installs its own handlers (same behaviour) once it runs
        stop.install()
        broker = options["broker"]
        url = worker.redis_url() if broker is None else broker
        if url in ("", "database"):
            worker.run_loop(worker.periodic_jobs(), once=options["once"], stop=stop)
            return
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise CommandError("--broker must be a redis:// URL or 'database'")
        broker_ = worker.RedisBroker(url, queue_name=worker.queue_name())
        worker.run_redis(broker_, worker.periodic_jobs(), once=options["once"], stop=stop)
