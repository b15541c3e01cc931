"""Production settings pass ``manage.py check --deploy`` without a warning, and the HTTPS
redirect spares /healthz (``SECURE_SSL_REDIRECT_EXEMPT`` was no Django setting)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest


def _production(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINQING_", "DJANGO_"))}
    return env | {
        "MINQING_DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "minqing.qiaocheng.gov.cn",
        "MINQING_HTTPS": "1",
        "MINQING_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_environment(tmp_path):
    done = _run(
        ["-m", "minqing", "check", "--deploy", "--fail-level", "WARNING"], _production(tmp_path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # the one silenced check is W021 (HSTS preload), justified in the settings
    assert "System check identified no issues (1 silenced)." in done.stdout


PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="minqing.qiaocheng.gov.cn")
health = client.get("/healthz")
page = client.get("/accounts/login/")
print(settings.SILENCED_SYSTEM_CHECKS, health.status_code, page.status_code, page["Location"])
"""


@pytest.mark.slow
def test_healthz_answers_over_http_while_pages_redirect(tmp_path):
    env = _production(tmp_path) | {"DJANGO_SETTINGS_MODULE": "minqing.settings"}
    done = _run(["-c", PROBE], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "['security.W021']",
        "200",
        "301",
        "https://minqing.qiaocheng.gov.cn/accounts/login/",
    ]


def test_the_settings_module_names_the_exemption_as_django_reads_it():
    from pathlib import Path

    from minqing import settings as module

    text = Path(module.__file__).read_text()
    assert "SECURE_SSL_REDIRECT_EXEMPT" not in text
    assert 'SECURE_REDIRECT_EXEMPT = [r"^healthz$"]' in text
