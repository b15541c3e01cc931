"""The audit key: the HMAC key of the audit chain, kept outside the database.

A small JSON file (``settings.MINQING_AUDIT_KEY``, default ``$MINQING_DATA_DIR/audit_key.json``),
created 0600 on first use, separate from the personal-data key ring (that one is re-sealed by
``rotate_keys``; this one only grows). It holds keys by id; every audit row and seal names the
key id it was made with, so :func:`rotate_audit_key` adds a key for new rows while old rows stay
verifiable. Without this file nobody — not even someone holding a copy of the database — can
forge a row or re-chain the trail; keep it with the key ring, out of database backups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

_lock = threading.Lock()


class AuditKeyError(RuntimeError):
    """The audit key file is missing a key a row names, or is malformed."""


@dataclass(frozen=True)
class AuditKeys:
    """HMAC keys by id; ``current`` signs new rows and seals."""

    keys: dict[int, bytes]
    current: int

    @classmethod
    def generate(cls) -> AuditKeys:
        return cls(keys={1: os.urandom(32)}, current=1)

    def with_new_key(self) -> AuditKeys:
        new_id = max(self.keys) + 1
        return AuditKeys(keys={**self.keys, new_id: os.urandom(32)}, current=new_id)

    def mac(self, key_id: int, message: bytes) -> str:
        try:
            key = self.keys[key_id]
        except KeyError:
            raise AuditKeyError(f"audit key {key_id} is not in {key_path()}") from None
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def to_json(self) -> str:
        keys = {str(k): base64.b64encode(v).decode() for k, v in self.keys.items()}
        return json.dumps({"current": self.current, "keys": keys}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> AuditKeys:
        try:
            raw = json.loads(text)
            keys = {int(k): base64.b64decode(v) for k, v in raw["keys"].items()}
            current = int(raw["current"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditKeyError(f"malformed audit key file: {exc}") from exc
        if current not in keys or any(len(k) < 32 for k in keys.values()):
            raise AuditKeyError("malformed audit key file: no current key of 32 bytes")
        return cls(keys=keys, current=current)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)


def key_path() -> Path:
    return Path(settings.MINQING_AUDIT_KEY)


_cached: tuple[str, AuditKeys] | None = None


def audit_keys() -> AuditKeys:
    """The audit keys, read once per process (created on first use)."""
    global _cached
    path = key_path()
    cached = _cached
    if cached is not None and cached[0] == str(path):
        return cached[1]
    with _lock:
        if not path.exists():
            AuditKeys.generate().save(path)
        keys = AuditKeys.from_json(path.read_text())
        _cached = (str(path), keys)
        return keys


def keys_naming(key_id: int) -> AuditKeys:
    """The audit keys, re-read if ``key_id`` is newer than this process knows (rotated by
    another process)."""
    keys = audit_keys()
    if key_id not in keys.keys:
        forget_cached_keys()
        keys = audit_keys()
    return keys


def forget_cached_keys() -> None:
    global _cached
    with _lock:
        _cached = None


def rotate_audit_key() -> int:
    """Add a new audit key and make it current; returns its id. Old keys are kept (rows and
    seals made with them stay verifiable)."""
    path = key_path()
    with _lock:
        keys = AuditKeys.from_json(path.read_text()) if path.exists() else AuditKeys.generate()
        rotated = keys.with_new_key()
        rotated.save(path)
    forget_cached_keys()
    return rotated.current
