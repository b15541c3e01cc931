"""Debian's chromium for the browser tests, driven by Playwright (whose own browser download
is not reachable here). The ``browser`` fixture in ``minqing/conftest.py`` uses this; a test
that takes it is marked ``browser`` (CI runs those once, at today's date: the browser keeps the
machine's real clock when ``./dev at`` moves Python's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium; skips the test without one (fails it in CI, which must run it)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        if os.environ.get("MINQING_REQUIRE_BROWSER"):
            pytest.fail("the browser test needs Debian's chromium (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
