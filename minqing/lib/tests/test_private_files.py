"""The data dir and what is in it are the owner's only (no other local account reads them)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from minqing.lib.private_files import secure_data_dir


def _mode(path) -> int:
    return path.stat().st_mode & 0o777


def _minqing(data_dir, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MINQING_KEYRING")}
    env["MINQING_DATA_DIR"] = str(data_dir)
    return subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "minqing", *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
        preexec_fn=lambda: os.umask(0o022),  # a permissive shell
    )


@pytest.mark.slow
def test_a_fresh_data_dir_database_and_key_ring_are_private(tmp_path):
    data = tmp_path / "data"
    _minqing(data, "migrate", "--verbosity", "0")
    _minqing(data, "rotate_keys")  # makes the key ring, as a deployment does on an empty database
    assert _mode(data) == 0o700
    for name in ("minqing.sqlite3", "keyring.json", "secret_key"):
        assert _mode(data / name) == 0o600, name


@pytest.mark.slow
def test_an_older_world_readable_data_dir_is_narrowed_at_start(tmp_path):
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "photos" / "2026").mkdir(parents=True)
    for path in (data / "minqing.sqlite3", data / "logs" / "server.log"):
        path.write_bytes(b"")
        path.chmod(0o644)
    for path in (data, data / "logs", data / "photos", data / "photos" / "2026"):
        path.chmod(0o755)
    _minqing(data, "check")
    assert _mode(data) == 0o700
    assert (
        _mode(data / "logs") == _mode(data / "photos") == _mode(data / "photos" / "2026") == 0o700
    )
    assert _mode(data / "minqing.sqlite3") == _mode(data / "logs" / "server.log") == 0o600


def test_secure_data_dir_narrows_and_never_widens(tmp_path):
    (tmp_path / "cache").mkdir(mode=0o755)
    (tmp_path / "minqing.sqlite3-wal").write_bytes(b"")
    (tmp_path / "minqing.sqlite3-wal").chmod(0o664)
    (tmp_path / "read-only").write_bytes(b"")
    (tmp_path / "read-only").chmod(0o400)
    ring = tmp_path.parent / f"{tmp_path.name}-ring.json"
    ring.write_text("{}")
    ring.chmod(0o644)
    secure_data_dir(tmp_path, ring)
    assert _mode(tmp_path / "cache") == 0o700
    assert _mode(tmp_path / "minqing.sqlite3-wal") == 0o600
    assert _mode(tmp_path / "read-only") == 0o400
    assert _mode(ring) == 0o600
