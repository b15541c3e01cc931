"""Files kept under the data dir, sealed with the personal-data key ring (docs/SECURITY-BAR.md §9):
uploaded ledgers, photos of problems. Never written in the clear (mode 0600 in 0700
directories); paths cannot escape the store's directory. Each file is bound to its place: the
associated data names the store and the relative path, so a sealed file copied over another
fails to open. ``minqing rotate_keys`` re-seals every file under the new key (``reseal_all``).
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from minqing.lib import crypto

SUFFIX = ".sealed"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600, directories 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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

    def context(self, relative: str) -> str:
        return f"file:{self.dirname}/{relative}"

    def store(self, data: bytes, suffix: str) -> str:
        """Seal and write; returns the path relative to the store."""
        relative = f"{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}{SUFFIX}"
        path = self.resolve(relative)
        write_private(path, crypto.seal(data, context=self.context(relative)))
        return relative

    def load(self, relative: str) -> bytes:
        blob = self.resolve(relative).read_bytes()
        if crypto.seal_id_of(blob) is None:  # format 1: base64 text, not bound to its path
            with crypto.accepting_unbound():
                return base64.b64decode(crypto.unseal(blob, context=self.context(relative)))
        return crypto.unseal(blob, context=self.context(relative))

    def reseal(self, relative: str) -> bool:
        """Re-seal one file under the current key; False when it already was."""
        path = self.resolve(relative)
        blob = path.read_bytes()
        ring = crypto.keyring()
        if crypto.seal_id_of(blob) is not None and crypto.key_id_of(blob) == ring.current:
            return False
        data = self.load(relative)
        write_private(path, crypto.seal(data, context=self.context(relative), ring=ring))
        return True

    def files(self) -> Iterator[str]:
        """Every sealed file of the store, relative to it."""
        root = self.root
        if not root.is_dir():
            return
        for path in sorted(root.rglob(f"*{SUFFIX}")):
            yield path.relative_to(root).as_posix()

    def remove(self, relative: str) -> None:
        self.resolve(relative).unlink(missing_ok=True)


def stores() -> list[SealedStore]:
    """Every store in the data dir: each top-level directory holding sealed files."""
    root = Path(settings.DATA_DIR)
    if not root.is_dir():
        return []
    return [
        SealedStore(d.name)
        for d in sorted(root.iterdir())
        if d.is_dir() and not d.is_symlink() and next(d.rglob(f"*{SUFFIX}"), None) is not None
    ]


def formats_in_files() -> dict[tuple[int, int], int]:
    """How many sealed files each (format, data key id) seals (format 1: not bound)."""
    used: dict[tuple[int, int], int] = {}
    for store in stores():
        for relative in store.files():
            with open(store.resolve(relative), "rb") as fh:
                head = fh.read(3)
            key = (head[0], crypto.key_id_of(head))
            used[key] = used.get(key, 0) + 1
    return used
