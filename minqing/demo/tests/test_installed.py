"""The demo app (which can drop every table) is installed only when the demo or the bench runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.live

#: What a production process does: the site's settings, then the demo command.
CALL_DEMO = """
import django
from django.conf import settings
from django.core.management import call_command, get_commands
django.setup()
print("installed" if "minqing.demo" in settings.INSTALLED_APPS else "not installed")
print("commands:", " ".join(c for c in ("demo", "bench") if c in get_commands()))
try:
    call_command("demo", "--help")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def _run(args: list[str], tmp_path) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MINQING_DEMO_APP", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env |= {"MINQING_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "minqing.settings"}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return done.stdout + done.stderr


def test_production_has_no_demo_commands(tmp_path):
    out = _run(["-c", CALL_DEMO], tmp_path)
    assert "not installed" in out
    assert "commands: \n" in out
    assert "CommandError Unknown command: 'demo'" in out
    listed = _run(["-m", "minqing", "help", "--commands"], tmp_path)
    assert "migrate" in listed.split() and "demo" not in listed.split()


def test_the_demo_and_bench_commands_install_it(tmp_path):
    for command in ("demo", "bench"):
        out = _run(["-m", "minqing", command, "--help"], tmp_path)
        assert "--households" in out, out
