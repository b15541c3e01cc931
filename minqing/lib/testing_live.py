"""A real Minqing server for tests that need one: a fresh database (a SQLite file, or a
PostgreSQL database of its own when the suite runs on PostgreSQL), data made by a setup script
through the services, and gunicorn serving it on a free port.

pytest-django's ``live_server`` would need transactional tests, which the append-only audit
table forbids (it cannot be flushed); a separate server process is also closer to production.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings


@contextlib.contextmanager
def fresh_database_url(prefix: str) -> Iterator[str | None]:
    """None for SQLite (the data dir's file); a new PostgreSQL database otherwise."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield None
        return
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    params: dict[str, Any] = {
        "host": str(db["HOST"] or "127.0.0.1"),
        "port": int(db["PORT"] or 5432),
        "user": str(db["USER"]),
        "password": db["PASSWORD"] or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    try:
        yield f"postgres://{auth}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MINQING_REDIS_URL")}
    env["MINQING_DATA_DIR"] = str(data_dir)
    env["MINQING_DEMO"] = "1"  # session cookies over plain HTTP
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def run_minqing(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "minqing", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.stdout


def shell_json(env: dict[str, str], script: str) -> Any:
    """Run ``script`` in ``minqing shell``; its last printed line is JSON."""
    return json.loads(run_minqing(env, "shell", "-c", script).strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen


@contextlib.contextmanager
def live_server(env: dict[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[LiveServer]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [
            sys.executable,
            "-m",
            "gunicorn",
            "minqing.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stdout.read() if process.stdout else "") from None
                time.sleep(0.2)
        yield LiveServer(url, env, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def served(data_dir: Path, prefix: str, setup: str) -> Iterator[LiveServer]:
    """A fresh database, migrated and filled by the ``setup`` script (its last line is JSON,
    kept as ``.data``), served by gunicorn: the fixture of the tests that need a real server."""
    with fresh_database_url(prefix) as database_url:
        env = server_env(data_dir, database_url)
        run_minqing(env, "migrate", "--verbosity", "0")
        data = shell_json(env, setup)
        with live_server(env) as live:
            live.data = data  # type: ignore[attr-defined]
            yield live
