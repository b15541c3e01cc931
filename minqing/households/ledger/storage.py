"""Keeping uploaded ledger files between "check" and "import" (under ``DATA_DIR/imports``).

A ledger holds whole villages' ID numbers and phones, so the file is sealed with the personal-data
key ring (SECURITY.md 9) like any other stored personal data, never written in the clear.
"""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from minqing.lib import crypto


def imports_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def _resolve(relative: str) -> Path:
    root = imports_dir().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError("stored ledger path escapes the imports directory")
    return path


def store(data: bytes, file_format: str) -> str:
    """Seal and write the file; returns its path relative to the imports directory."""
    relative = f"{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{file_format}.sealed"
    path = _resolve(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    sealed = crypto.encrypt(base64.b64encode(data).decode("ascii"))
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(sealed)
    os.replace(tmp, path)
    return relative


def load(relative: str) -> bytes:
    return base64.b64decode(crypto.decrypt(_resolve(relative).read_bytes()))


def remove(relative: str) -> None:
    _resolve(relative).unlink(missing_ok=True)
