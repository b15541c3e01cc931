"""Files kept under the data dir, sealed with the personal-data key ring (SECURITY.md 9):
uploaded ledgers, photos of problems. Never written in the clear; paths cannot escape the
store's directory."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from minqing.lib import crypto


class SealedStore:
    """One directory of sealed files under ``DATA_DIR``."""

    def __init__(self, dirname: str) -> None:
        self.dirname = dirname

    @property
    def root(self) -> Path:
        return Path(settings.DATA_DIR) / self.dirname

    def resolve(self, relative: str) -> Path:
        root = self.root.resolve()
        path = (root / relative).resolve()
        if root not in path.parents:
            raise ValueError(f"stored path escapes the {self.dirname} directory")
        return path

    def store(self, data: bytes, suffix: str) -> str:
        """Seal and write; returns the path relative to the store."""
        relative = f"{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}.sealed"
        path = self.resolve(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        sealed = crypto.encrypt(base64.b64encode(data).decode("ascii"))
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(sealed)
        os.replace(tmp, path)
        return relative

    def load(self, relative: str) -> bytes:
        return base64.b64decode(crypto.decrypt(self.resolve(relative).read_bytes()))

    def remove(self, relative: str) -> None:
        self.resolve(relative).unlink(missing_ok=True)
