"""No plaintext ID number or phone anywhere in the database files (docs/SECURITY-BAR.md §9).

Builds a small demo county plus one household through the services into a real SQLite file
(in a subprocess, as `minqing` would run), then reads every byte of the database, its
write-ahead log and shared memory file.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ADD_ONE = """
import datetime as dt
from minqing.accounts.models import User
from minqing.households.models import Household
from minqing.households.services import resident_add
user = User.objects.get(username="village")
household = Household.objects.visible_to(user).first()
resident_add(by=user, household=household, data={
    "name": "测试人", "relation": "other", "id_number": ID_NUMBER,
    "phone": "13988887777", "health_notes": "糖尿病"})
"""


def _run(data_dir: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["MINQING_DATA_DIR"] = str(data_dir)
    subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "minqing", *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.slow
def test_no_plaintext_in_sqlite_files(tmp_path):
    from minqing.lib import crypto, idcard

    first17 = "11010519491231002"
    known_id = first17 + idcard.check_digit(first17)
    _run(tmp_path, "demo", "--build-only", "--households", "40")
    _run(tmp_path, "shell", "-c", ADD_ONE.replace("ID_NUMBER", repr(known_id)))

    ring = crypto.Keyring.from_json((tmp_path / "keyring.json").read_text())
    db = sqlite3.connect(tmp_path / "minqing.sqlite3")
    secrets = {known_id, "13988887777"}
    for blob_id, blob_phone in db.execute("SELECT id_number, phone FROM households_resident"):
        if blob_id is not None:
            secrets.add(crypto.decrypt(blob_id, ring, context="households_resident.id_number"))
        if blob_phone is not None:
            secrets.add(crypto.decrypt(blob_phone, ring, context="households_resident.phone"))
    db.close()
    assert len(secrets) > 60  # the demo's people really are in there
    assert known_id in secrets

    raw = b"".join(p.read_bytes() for p in tmp_path.glob("minqing.sqlite3*"))
    leaked = [s for s in secrets if s.encode() in raw]
    assert leaked == []
