"""``minqing demo``: build (or reuse) a demo county, print fresh logins, and serve it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from minqing.demo.builder import BuildOptions, BuildReport, add_build_arguments, build_county
from minqing.demo.database import database_state, demo_marker, describe, wipe_database
from minqing.demo.users import logins_table, reset_demo_passwords


class Command(BaseCommand):
    help = (
        "Build a demo county (谯城区-style, generated people) into the configured database, "
        "print one-time logins and serve it on 127.0.0.1."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        add_build_arguments(parser)
        parser.add_argument(
            "--rebuild", action="store_true", help="wipe the demo database and build it again"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="with --rebuild: wipe even a database that is not a demo",
        )
        parser.add_argument("--build-only", action="store_true", help="build, print, do not serve")
        parser.add_argument("--workers", type=int, default=2, help="web server worker processes")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["preset"] and options["households"]:
            raise CommandError("give either --preset or --households, not both")
        build = BuildOptions(
            households=options["households"],
            preset=options["preset"],
            seed=options["seed"],
            workers=options["build_workers"],
            progress=self.stdout.write,
        )
        if not options["build_only"]:
            _check_port(options["port"])
        report = prepare_demo(
            build, rebuild=options["rebuild"], force=options["force"], write=self.stdout.write
        )
        if report is not None:
            self.stdout.write(
                f"Built {report.households:,} households, {report.residents:,} residents in "
                f"{report.villages:,} villages / {report.grids:,} grids in {report.seconds:.1f} s."
            )
        for line in calendar_notice():
            self.stdout.write(line)
        logins = reset_demo_passwords()
        url = f"http://127.0.0.1:{options['port']}/"
        if options["build_only"]:
            self.stdout.write(f"\nDemo database: {describe()}\n\n{logins_table(logins)}\n")
            self.stdout.write("These passwords are new on every start and shown only here.")
            return
        connection.close()  # the server processes open their own
        logs = settings.DATA_DIR / "logs"
        serve(
            options["port"],
            options["workers"],
            logs=logs,
            banner=(
                f"\nThe web server's and the worker's lines go to {logs}/.\n"
                f"\nMinqing demo running at {url}\n\n{logins_table(logins)}\n\n"
                "These passwords are new on every start and shown only here. Ctrl-C stops.\n"
            ),
            write=self.stdout.write,
        )


def calendar_notice() -> list[str]:
    """What the demo says of the holiday calendar: the years around today whose official
    holidays nobody has entered, whose deadlines are therefore estimated."""
    from minqing.issues.models import Issue
    from minqing.workdays.selectors import work_calendar

    cal = work_calendar()
    today = timezone.localdate()
    years = [y for y in (today.year, today.year + 1) if cal.year_estimated(y)]
    if not years:
        return [f"Official holidays of {today.year} and {today.year + 1} are known."]
    names = " and ".join(str(y) for y in years)
    estimated = Issue.objects.open().filter(deadline_estimated=True).count()
    return [
        f"Holidays of {names} are not entered yet: deadlines falling in {names} are estimated "
        "(weekends and statutory holidays, no make-up working days) until the county enters "
        f"the year on the calendar page (工作日历); {estimated:,} open issues carry such a "
        "deadline."
    ]


def prepare_demo(
    build: BuildOptions, *, rebuild: bool, force: bool, write: Any
) -> BuildReport | None:
    """Migrate, then reuse the demo county or build it; returns the report of a new build."""
    state = database_state()
    if state == "other" and not (rebuild and force):
        raise CommandError(
            f"{describe()} holds data that is not a demo county. Use a fresh data dir "
            "(MINQING_DATA_DIR=/tmp/minqing-demo minqing demo) or --rebuild --force to wipe it."
        )
    if rebuild and state in ("demo", "other"):
        write(f"Wiping {describe()} …")
        wipe_database(force=force)
        state = "missing"
    call_command("migrate", interactive=False, verbosity=0)
    if state == "demo":
        marker = demo_marker() or {}
        wanted = build.params()
        built = {k: marker.get(k) for k in wanted}
        write(
            f"Reusing the demo county in {describe()} "
            f"({marker.get('households_built', 0):,} households, seed {marker.get('seed')})."
        )
        if built != wanted:
            write(
                f"  It was built with {built}; you asked for {wanted}. Add --rebuild to "
                "build that instead."
            )
        return None
    write(f"Building the demo county into {describe()} …")
    return build_county(build)


def _check_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise CommandError(f"port {port} is busy ({exc.strerror}); try --port") from exc


def serve(port: int, workers: int, *, logs: Any, banner: str, write: Any) -> None:
    """Run gunicorn (or runserver where gunicorn is missing) and ``minqing worker`` until Ctrl-C.

    The server gets MINQING_DEMO=1 so settings allow session cookies over plain HTTP. Their
    output goes to ``logs/server.log`` and ``logs/worker.log``: the banner with the logins is
    the last thing on the terminal, and no routine line of the worker scrolls it away.
    """
    logs.mkdir(parents=True, exist_ok=True)
    server_log = (logs / "server.log").open("ab")
    worker_log = (logs / "worker.log").open("ab")
    # The server and worker are the product's: without the demo app (MINQING_DEMO_APP).
    env = {k: v for k, v in os.environ.items() if k != "MINQING_DEMO_APP"} | {"MINQING_DEMO": "1"}
    address = f"127.0.0.1:{port}"
    if importlib.util.find_spec("gunicorn") is not None and os.name == "posix":
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "minqing.wsgi:application",
            "--bind",
            address,
            "--workers",
            str(max(1, workers)),
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
        ]
        if _version("gunicorn") >= (25, 1):
            cmd.append("--no-control-socket")  # nothing to manage at run time; no file in $HOME
    else:
        cmd = [sys.executable, "-m", "minqing", "runserver", "--noreload", address]
    # Our own interpreter and arguments (S603).
    proc = subprocess.Popen(cmd, env=env, stdout=server_log, stderr=subprocess.STDOUT)  # noqa: S603
    # The background worker (deadline sweeps; queued jobs with Redis) runs beside the server.
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "minqing", "worker"],
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Stopping the demo (Ctrl-C, kill, closing the terminal) stops its server too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        if not _wait_ready(port, proc):
            tail = (logs / "server.log").read_text(errors="replace").splitlines()[-15:]
            raise CommandError(
                f"the web server did not start (exit code {proc.poll()}); the end of "
                f"{logs / 'server.log'}:\n" + "\n".join(tail)
            )
        write(banner)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in (proc, worker):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in (proc, worker):
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        server_log.close()
        worker_log.close()


def _version(package: str) -> tuple[int, ...]:
    try:
        text = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return (0,)
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False
