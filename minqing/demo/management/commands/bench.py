"""``minqing bench``: build a county and time the build and the busiest pages."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from minqing.demo.bench import run_bench
from minqing.demo.builder import BuildOptions, add_build_arguments
from minqing.demo.database import database_state, describe, wipe_database


class Command(BaseCommand):
    help = (
        "Build a demo county and print a Markdown table of build time and page latencies, "
        "each beside a reference measured in the same run. SQLite runs in a temporary "
        "data dir; with DATABASE_URL=postgres://… the bench builds into that database."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_build_arguments(parser)
        parser.add_argument("--repeat", type=int, default=200, help="requests per figure")
        parser.add_argument(
            "--here", action="store_true", help="use the configured database even when it is SQLite"
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="wipe the target database even if it holds non-demo data",
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="keep the temporary SQLite data dir (its path is printed)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["preset"] and options["households"]:
            raise CommandError("give either --preset or --households, not both")
        if options["repeat"] < 1:
            raise CommandError("--repeat must be at least 1")
        build = BuildOptions(
            households=options["households"],
            preset=options["preset"],
            seed=options["seed"],
            workers=options["build_workers"],
            progress=self._progress,
        )
        temp_dir: Path | None = None
        if connection.vendor == "sqlite" and not options["here"]:
            temp_dir = Path(tempfile.mkdtemp(prefix="minqing-bench-"))
            _use_temporary_sqlite(temp_dir)
        try:
            self._prepare(yes=options["yes"])
            table = run_bench(build, repeat=options["repeat"], write=self.stderr.write)
            self.stdout.write(table)
        finally:
            if temp_dir is not None:
                connection.close()
                if options["keep"]:
                    self.stderr.write(f"Kept {temp_dir}")
                else:
                    shutil.rmtree(temp_dir, ignore_errors=True)

    def _progress(self, message: str) -> None:
        self.stderr.write(message)

    def _prepare(self, *, yes: bool) -> None:
        """An empty, migrated target: wipe a previous demo, refuse other data without --yes."""
        if connection.in_atomic_block:  # inside a test transaction: build beside nothing
            if database_state() not in ("empty", "missing"):
                raise CommandError("the test database is not empty")
            return
        state = database_state()
        if state == "other":
            if not yes:
                raise CommandError(
                    f"{describe()} holds data that is not a demo county; the bench would wipe "
                    "it. Use a separate database (e.g. createdb minqing_bench) or add --yes."
                )
            self.stderr.write(f"WARNING: wiping non-demo data in {describe()} (--yes).")
        if state in ("demo", "other"):
            self.stderr.write(f"Wiping {describe()} …")
            wipe_database(force=True)
        call_command("migrate", interactive=False, verbosity=0)


def _use_temporary_sqlite(directory: Path) -> None:
    """Point this process's default database and key ring at a fresh temporary data dir."""
    connection.close()
    connection.settings_dict["NAME"] = str(directory / "bench.sqlite3")
    settings.MINQING_KEYRING = directory / "keyring.json"
