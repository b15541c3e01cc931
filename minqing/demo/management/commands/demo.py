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

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

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
        logins = reset_demo_passwords()
        url = f"http://127.0.0.1:{options['port']}/"
        if options["build_only"]:
            self.stdout.write(f"\nDemo database: {describe()}\n\n{logins_table(logins)}\n")
            self.stdout.write("These passwords are new on every start and shown only here.")
            return
        connection.close()  # the server processes open their own
        serve(
            options["port"],
            options["workers"],
            banner=(
                f"\nMinqing demo running at {url}\n\n{logins_table(logins)}\n\n"
                "These passwords are new on every start and shown only here. Ctrl-C stops.\n"
            ),
            write=self.stdout.write,
        )


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


def serve(port: int, workers: int, *, banner: str, write: Any) -> None:
    """Run gunicorn (or runserver where gunicorn is missing) and ``minqing worker`` until Ctrl-C.

    The server gets MINQING_DEMO=1 so settings allow session cookies over plain HTTP.
    """
    env = {**os.environ, "MINQING_DEMO": "1"}
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
    proc = subprocess.Popen(cmd, env=env)  # noqa: S603 - our own interpreter and arguments
    # The background worker (deadline sweeps; queued jobs with Redis) runs beside the server.
    worker = subprocess.Popen([sys.executable, "-m", "minqing", "worker"], env=env)  # noqa: S603

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Stopping the demo (Ctrl-C, kill, closing the terminal) stops its server too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        if not _wait_ready(port, proc):
            raise CommandError(f"the web server did not start (exit code {proc.poll()})")
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
