"""Upgrading a trail of the old SHA-256 chain: migration 0003 checks the old chain, says
whether it held, then signs and seals the old rows so ``verify_audit`` covers them."""

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GENESIS = "0" * 64


def minqing(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MINQING_DATA_DIR": str(data_dir), "MINQING_DEBUG": "1"}
    for name in ("DATABASE_URL", "MINQING_AUDIT_KEY", "MINQING_AUDIT_ANCHORS"):
        env.pop(name, None)
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "minqing", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def legacy_rows(path: Path, *, tamper: bool) -> None:
    """Three rows as the old code wrote them (SHA-256 chain and head); ``tamper`` edits the
    second one afterwards."""
    db = sqlite3.connect(path)
    prev = GENESIS
    for i in range(3):
        at = dt.datetime(2026, 11, 20, 2, 0, i, 123456, tzinfo=dt.UTC)
        fields = {
            "at": at.isoformat(),
            "user_id": None,
            "username": f"u{i}",
            "ip": "",
            "action": "login",
            "object_type": "",
            "object_id": "",
            "object_repr": "",
            "success": True,
            "detail": {},
        }
        payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256((prev + payload).encode()).hexdigest()
        db.execute(
            "INSERT INTO audit_auditevent (at, user_id_value, username, ip, action, object_type,"
            " object_id, object_repr, success, detail, prev_hash, hash)"
            " VALUES (?, NULL, ?, '', 'login', '', '', '', 1, '{}', ?, ?)",
            [at.strftime("%Y-%m-%d %H:%M:%S.%f"), f"u{i}", prev, digest],
        )
        prev = digest
    db.execute("INSERT INTO audit_audithead (id, last_hash) VALUES (1, ?)", [prev])
    if tamper:
        db.execute("DROP TRIGGER audit_event_no_update")
        db.execute("UPDATE audit_auditevent SET username = 'mallory' WHERE username = 'u1'")
    db.commit()
    db.close()


@pytest.mark.slow
@pytest.mark.parametrize("tamper", [False, True])
def test_old_rows_are_checked_signed_and_sealed(tmp_path, tamper):
    assert minqing(tmp_path, "migrate", "audit", "0002", "-v0").returncode == 0
    legacy_rows(tmp_path / "minqing.sqlite3", tamper=tamper)
    upgrade = minqing(tmp_path, "migrate", "audit")
    assert upgrade.returncode == 0, upgrade.stderr
    said = "broken at row 2" if tamper else "intact"
    assert f"3 existing rows signed and sealed; their SHA-256 chain: {said}" in upgrade.stdout
    assert (tmp_path / "audit_key.json").stat().st_mode & 0o777 == 0o600
    assert len((tmp_path / "audit_anchors.jsonl").read_text().splitlines()) == 1
    verify = minqing(tmp_path, "verify_audit", "--no-seal")
    assert verify.returncode == 0, verify.stderr
    assert "audit trail intact: 3 sealed rows (head at position 3)" in verify.stdout
    db = sqlite3.connect(tmp_path / "minqing.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_auditseal")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_auditevent SET username = 'x'")
