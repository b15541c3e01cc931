"""``minqing backup`` and ``minqing restore`` (docs/SECURITY-BAR.md §20).

One archive (tar, mode 0600) holds:

- ``manifest.json``: format, app version, when, the database vendor, row counts per table and
  the audit chain's head as they are *in the snapshot*, the data keys its values are sealed
  with, and the files;
- the database: SQLite's online backup API (``sqlite3.Connection.backup``: a consistent copy
  while others write) or ``pg_dump --format=custom`` run on a snapshot exported from a
  REPEATABLE READ transaction that also counts the rows (so the counts are the dump's);
- the sealed files (photos, ledger imports: they are sealed already) and the audit chain's
  anchor file (copied *before* the snapshot, so no anchor names a row the snapshot lacks).

Never the key ring nor the audit key: they are kept apart (``MINQING_KEYRING``,
``MINQING_AUDIT_KEY``), backed up through the deployment's secrets mechanism; a restore reads
the values with the ring that is in place and says which key is missing if one is.

``restore`` refuses a target database that holds data unless ``force``; then checks the
manifest, restores the database (SQLite backup API into the target file; ``pg_restore
--clean``), the files and the anchors, compares every table's row count with the manifest,
verifies the audit chain, and opens one value of every encrypted column with the key ring.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from minqing.lib import crypto, sealed_files

FORMAT = "minqing-backup/1"
DB_SQLITE = "database.sqlite3"
DB_PG = "database.pgdump"
ANCHORS = "audit_anchors.jsonl"
FILES = "files"
#: Tables ``migrate`` fills by itself: a target holding only these counts as empty.
MIGRATE_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


class BackupError(RuntimeError):
    pass


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    counts_ok: bool = True
    count_problems: list[str] = field(default_factory=list)
    audit_ok: bool = True
    audit_summary: str = ""
    key_problems: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        return self.counts_ok and self.audit_ok and not self.key_problems


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minqing")
    except PackageNotFoundError:
        return "unknown"


def _anchor_path() -> Path | None:
    path = getattr(settings, "MINQING_AUDIT_ANCHORS", None)
    return Path(path) if path else None


def _tables(cursor: Any) -> list[str]:
    return sorted(connection.introspection.table_names(cursor))


def _audit_head(query: Any) -> dict[str, Any]:
    """Count and newest row of the audit trail (and its MAC when rows carry one)."""
    from minqing.audit.models import AuditEvent

    table = AuditEvent._meta.db_table
    count, last = query(f'SELECT COUNT(*), MAX(id) FROM "{table}"')[0]  # noqa: S608
    head: dict[str, Any] = {"table": table, "rows": count, "last_id": last}
    if last is not None and "mac" in {f.column for f in AuditEvent._meta.concrete_fields}:
        head["last_mac"] = query(f'SELECT mac FROM "{table}" WHERE id = %s' % int(last))[0][0]  # noqa: S608
    return head


def _keys_in(query: Any) -> list[int]:
    """Data key ids sealing the snapshot's values (what the ring must hold to read it)."""
    from minqing.lib.rotation import encrypted_columns

    used: set[int] = set()
    for model, names in encrypted_columns():
        for name in names:
            column = getattr(model._meta.get_field(name), "column", name)
            for (blob,) in query(
                f'SELECT "{column}" FROM "{model._meta.db_table}" '  # noqa: S608
                f'WHERE "{column}" IS NOT NULL'
            ):
                used.add(crypto.key_id_of(bytes(blob)))
    return sorted(used)


def _private_dir(parent: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=".minqing-backup-", dir=parent))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_env_args() -> tuple[dict[str, str], list[str]]:
    db = settings.DATABASES["default"]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = []
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    args += ["--dbname", str(db["NAME"])]
    return env, args


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: on Debian `apt-get install postgresql-client` "
            "(the same major version as the server or newer)"
        )
    return path


# --- backup --------------------------------------------------------------------------------


def create_backup(out: Path) -> dict[str, Any]:
    """Write the archive to ``out`` (0600); returns its manifest."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = _private_dir(out.parent)
    try:
        anchors = _anchor_path()
        has_anchors = anchors is not None and anchors.exists()
        if has_anchors:
            shutil.copyfile(str(anchors), work / ANCHORS)  # before the snapshot: see the docstring
        if connection.vendor == "sqlite":
            db_name, snapshot = DB_SQLITE, _sqlite_snapshot(work / DB_SQLITE)
        elif connection.vendor == "postgresql":
            db_name, snapshot = DB_PG, _pg_snapshot(work / DB_PG)
        else:
            raise BackupError(f"no backup for the {connection.vendor} database")
        files = []
        for store in sealed_files.stores():
            for relative in store.files():
                name = f"{FILES}/{store.dirname}/{relative}"
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(store.resolve(relative), work / name)
                files.append(name)
        manifest = {
            "format": FORMAT,
            "app_version": app_version(),
            "created_at": timezone.now().isoformat(),
            "vendor": connection.vendor,
            "database": db_name,
            "database_sha256": _sha256(work / db_name),
            **snapshot,
            "audit_anchors": ANCHORS if has_anchors else None,
            "files": len(files),
            "key_ring": (
                "not in this archive: restore keyring.json (MINQING_KEYRING) and the audit "
                "key (MINQING_AUDIT_KEY) from their own backup"
            ),
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        tmp = out.with_name(f".{out.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
            tar.add(work / "manifest.json", arcname="manifest.json")
            tar.add(work / db_name, arcname=db_name)
            if has_anchors:
                tar.add(work / ANCHORS, arcname=ANCHORS)
            for name in files:
                tar.add(work / name, arcname=name)
        os.replace(tmp, out)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _counts(query: Any, tables: list[str]) -> dict[str, int]:
    return {t: query(f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in tables}  # noqa: S608


def _sqlite_snapshot(target: Path) -> dict[str, Any]:
    connection.ensure_connection()
    dest = sqlite3.connect(str(target))
    try:
        # one step: a consistent copy while other connections write (they wait, or we retry)
        connection.connection.backup(dest, pages=-1)
    finally:
        dest.close()
    snap = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return snap.execute(sql.replace("%s", "?")).fetchall()

        tables = [
            r[0]
            for r in snap.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            "tables": _counts(query, tables),
            "audit": _audit_head(query),
            "keys": _keys_in(query),
        }
    finally:
        snap.close()


def _pg_snapshot(target: Path) -> dict[str, Any]:
    """Count rows and dump from one exported snapshot (REPEATABLE READ)."""
    pg_dump = _tool("pg_dump")
    conn = connections["default"]
    conn.ensure_connection()
    raw = conn.connection
    old_autocommit = raw.autocommit
    raw.autocommit = True
    try:
        with raw.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                cur.execute("SELECT pg_export_snapshot()")
                snapshot_id = cur.fetchone()[0]

                def query(sql: str) -> list[tuple[Any, ...]]:
                    cur.execute(sql)
                    return cur.fetchall()

                tables = [
                    r[0]
                    for r in query(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                        "ORDER BY tablename"
                    )
                ]
                snap = {
                    "tables": _counts(query, tables),
                    "audit": _audit_head(query),
                    "keys": _keys_in(query),
                }
                env, args = _pg_env_args()
                done = subprocess.run(  # noqa: S603 - pg_dump with our own arguments
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        f"--snapshot={snapshot_id}",
                        "--file",
                        str(target),
                        *args,
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
            finally:
                cur.execute("COMMIT")
    finally:
        raw.autocommit = old_autocommit
    return snap


# --- restore -------------------------------------------------------------------------------


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A regular member's bytes (``_safe_members`` lets only regular files through)."""
    handle = tar.extractfile(member)
    if handle is None:
        raise BackupError(f"not a regular file in the backup: {member.name}")
    return handle.read()


def _safe_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members = {}
    for m in tar.getmembers():
        path = PurePosixPath(m.name)
        if not m.isfile() or path.is_absolute() or ".." in path.parts:
            raise BackupError(f"archive member {m.name!r} is not a plain relative file")
        members[m.name] = m
    return members


def read_manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, mode="r") as tar:
        members = _safe_members(tar)
        if "manifest.json" not in members:
            raise BackupError("not a Minqing backup: no manifest.json")
        manifest = json.loads(_read(tar, members["manifest.json"]))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def target_rows() -> dict[str, int]:
    """Row counts of the target database's tables that hold data (beyond what migrate adds)."""
    with connection.cursor() as cursor:
        tables = [t for t in _tables(cursor) if t not in MIGRATE_TABLES]
        out = {}
        for t in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(t)}")  # noqa: S608
            n = cursor.fetchone()[0]
            if n:
                out[t] = n
    return out


def restore_backup(archive: Path, *, force: bool = False) -> RestoreReport:
    archive = Path(archive)
    manifest = read_manifest(archive)
    if manifest["vendor"] != connection.vendor:
        raise BackupError(
            f"the archive holds a {manifest['vendor']} database; the target is {connection.vendor}"
        )
    anchors = _anchor_path()
    busy = target_rows()
    if (busy or (anchors is not None and anchors.exists())) and not force:
        what = ", ".join(f"{t} ({n})" for t, n in sorted(busy.items())[:8]) or str(anchors)
        raise BackupError(f"the target is not empty: {what}; restore with --force to replace it")
    work = _private_dir(Path(settings.DATA_DIR))
    try:
        with tarfile.open(archive, mode="r") as tar:
            members = _safe_members(tar)
            db_name = manifest["database"]
            if db_name not in members:
                raise BackupError(f"the archive lacks {db_name}")
            tar.extract(members[db_name], work, filter="data")
            if _sha256(work / db_name) != manifest["database_sha256"]:
                raise BackupError(f"{db_name} does not match the manifest's checksum")
            if manifest["vendor"] == "sqlite":
                _sqlite_restore(work / db_name)
            else:
                _pg_restore(work / db_name)
            files = 0
            for name, member in members.items():
                if name.startswith(f"{FILES}/"):
                    _, dirname, relative = name.split("/", 2)
                    store = sealed_files.SealedStore(dirname)
                    sealed_files.write_private(store.resolve(relative), _read(tar, member))
                    files += 1
            if manifest.get("audit_anchors") and anchors is not None:
                data = _read(tar, members[ANCHORS])
                sealed_files.write_private(anchors, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = RestoreReport(manifest=manifest, files=files)
    if files != manifest["files"]:
        report.counts_ok = False
        report.count_problems.append(
            f"files: {files} restored, {manifest['files']} in the manifest"
        )
    _check_counts(report)
    _check_audit(report)
    _check_keys(report)
    return report


def _sqlite_restore(source_path: Path) -> None:
    connection.ensure_connection()
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        source.backup(connection.connection, pages=-1)  # replaces the target's pages
    finally:
        source.close()
    target = str(settings.DATABASES["default"]["NAME"])
    if os.path.exists(target):
        os.chmod(target, 0o600)


def _pg_restore(dump: Path) -> None:
    pg_restore = _tool("pg_restore")
    connections.close_all()
    env, args = _pg_env_args()
    done = subprocess.run(  # noqa: S603 - pg_restore with our own arguments
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            *args,
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def _check_counts(report: RestoreReport) -> None:
    with connection.cursor() as cursor:
        present = set(_tables(cursor))
        for table, expected in report.manifest["tables"].items():
            if table not in present:
                report.counts_ok = False
                report.count_problems.append(f"{table}: missing after the restore")
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            got = cursor.fetchone()[0]
            if got != expected:
                report.counts_ok = False
                report.count_problems.append(f"{table}: {got} rows, {expected} in the manifest")


def verify_audit() -> tuple[bool, str]:
    """The audit helper's public verification, whatever shape it answers in."""
    from minqing.audit import services

    verify = services.verify_chain
    kwargs = {}
    if "unsealed_limit" in inspect.signature(verify).parameters:
        # rows written but not sealed yet when the backup was taken are not a break
        kwargs["unsealed_limit"] = dt.timedelta(days=365 * 100)
    result = verify(**kwargs)
    if isinstance(result, tuple):  # (rows, problem or None)
        rows, problem = result
        return problem is None, problem or f"audit trail intact: {rows} rows"
    return bool(result.ok), result.summary()


def _check_audit(report: RestoreReport) -> None:
    report.audit_ok, report.audit_summary = verify_audit()


def _check_keys(report: RestoreReport) -> None:
    """Open one value of every encrypted column with the ring in place."""
    from minqing.lib.rotation import sealed_models

    hint = "restore keyring.json (MINQING_KEYRING) from its own backup"
    if not Path(settings.MINQING_KEYRING).exists():
        report.key_problems.append(f"no key ring at {settings.MINQING_KEYRING}: {hint}")
        return
    crypto.forget_cached_keyring()
    ring = crypto.keyring()
    missing = sorted(set(report.manifest.get("keys", [])) - set(ring.keys))
    if missing:
        report.key_problems.append(
            f"the key ring {settings.MINQING_KEYRING} lacks data keys {missing}: restore "
            "keyring.json from its own backup"
        )
        return
    for sm in sealed_models():
        for f in sm.encrypted:
            try:  # decrypted without error is the check
                sm.model._base_manager.exclude(**{f.name: None}).values_list(f.name).first()
            except crypto.KeyringError as exc:
                report.key_problems.append(f"{exc}: is it the ring of this backup? {hint}")
                return


__all__ = [
    "BackupError",
    "RestoreReport",
    "create_backup",
    "read_manifest",
    "restore_backup",
]
