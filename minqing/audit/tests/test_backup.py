"""docs/SECURITY-BAR.md §20: the restore drill.

A small county is built into a real data dir (SQLite file, or a PostgreSQL database), a writer
keeps writing while ``minqing backup`` runs, and the archive is restored into a fresh data dir
(and database) that shares only the key ring and audit key, kept apart: row counts equal the
manifest, the audit chain verifies, an encrypted value and a sealed photo read back. The archive
holds no key, and a target that holds data is refused without --force.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

PG = "postgres://postgres@127.0.0.1:5432/"

WRITER = """
import time
from minqing.audit.services import audit_record
from minqing.households.models import Resident
end = time.monotonic() + 6
n = 0
while time.monotonic() < end:
    audit_record(action="drill.write", username="(drill)", detail={"n": n})
    r = Resident.objects.order_by("?").first()
    r.notes = f"drill {n}"
    r.save()
    n += 1
print(n)
"""

READ_BACK = """
import json
from minqing.households.models import Resident
from minqing.issues.photos import PHOTOS
r = Resident.objects.exclude(id_number=None).order_by("id").first()
print(json.dumps({"pk": r.pk, "id": r.id_number.reveal(),
                  "photo": PHOTOS.load(open(PHOTO_LIST).read().strip()).hex()}))
"""

STORE_PHOTO = """
from minqing.issues.photos import PHOTOS
open(PHOTO_LIST, "w").write(PHOTOS.store(bytes(range(256)) * 4, "png"))
"""


def _env(data: Path, keys: Path, database: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINQING_")}
    env.pop("DATABASE_URL", None)
    env.update(
        MINQING_DATA_DIR=str(data),
        MINQING_KEYRING=str(keys / "keyring.json"),
        MINQING_AUDIT_KEY=str(keys / "audit_key.json"),
        SECRET_KEY="drill-secret-key-" + "x" * 40,
    )
    if database:
        env["DATABASE_URL"] = database
    return env


def _minqing(env, *args, check=True):
    return subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "minqing", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=check,
    )


def _pg_database(name: str) -> str:
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(PG + "postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    return PG + name


def _drill(tmp_path: Path, source_db: str | None, target_db: str | None) -> None:
    keys = tmp_path / "keys"  # kept apart from the data dir, as a deployment must
    keys.mkdir()
    src, dst = tmp_path / "src", tmp_path / "dst"
    photo_list = str(tmp_path / "photo.txt")
    env_src, env_dst = _env(src, keys, source_db), _env(dst, keys, target_db)
    _minqing(env_src, "demo", "--build-only", "--households", "30")
    _minqing(env_src, "shell", "-c", STORE_PHOTO.replace("PHOTO_LIST", repr(photo_list)))

    writer = subprocess.Popen(  # noqa: S603 - another connection writing during the backup
        [sys.executable, "-m", "minqing", "shell", "-c", WRITER],
        env=env_src,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    archive = tmp_path / "out" / "drill.tar"
    _minqing(env_src, "backup", "--out", str(archive))
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert int(out.split()[-1]) > 0  # it really wrote

    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert not any("keyring" in n or "audit_key" in n for n in names)
    assert manifest["files"] == 1 and manifest["audit"]["rows"] > 0
    assert manifest["tables"]["households_resident"] > 30

    _minqing(env_dst, "restore", str(archive))
    _minqing(env_dst, "verify_audit", "--no-seal")
    script = READ_BACK.replace("PHOTO_LIST", repr(photo_list))
    got = json.loads(_minqing(env_dst, "shell", "-c", script).stdout.splitlines()[-1])
    want = json.loads(_minqing(env_src, "shell", "-c", script).stdout.splitlines()[-1])
    assert got == want
    assert got["photo"] == (bytes(range(256)) * 4).hex()

    again = _minqing(env_dst, "restore", str(archive), check=False)
    assert again.returncode != 0 and "not empty" in again.stderr
    _minqing(env_dst, "restore", str(archive), "--force")

    # without the key ring the restore says so and fails
    shutil.move(keys / "keyring.json", tmp_path / "keyring.json")
    bare = _minqing(env_dst, "restore", str(archive), "--force", check=False)
    assert bare.returncode != 0 and "no key ring at" in bare.stderr
    assert not (keys / "keyring.json").exists()  # the restore made no new, useless one


@pytest.mark.slow
def test_restore_drill_on_sqlite(tmp_path):
    _drill(tmp_path, None, None)


@pytest.mark.slow
def test_restore_drill_on_postgresql(tmp_path):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed (apt-get install postgresql-client)")
    source, target = _pg_database("h_crypto_drill_src"), _pg_database("h_crypto_drill_dst")
    _drill(tmp_path, source, target)
