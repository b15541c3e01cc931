"""Restore an archive written by ``minqing backup`` and check it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from minqing.audit.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup archive into this data dir and database, then check it: row counts "
        "against the manifest, the audit chain, and that the key ring in place reads the "
        "personal data. Refuses a database that holds data unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument(
            "--force", action="store_true", help="replace a database that holds data"
        )

    def handle(self, *args, **options):
        try:
            report = restore_backup(Path(options["archive"]), force=options["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        m = report.manifest
        self.stdout.write(
            f"restored the backup of {m['created_at']} (Minqing {m['app_version']}): "
            f"{len(m['tables'])} tables, {report.files} sealed files"
        )
        for problem in report.count_problems:
            self.stderr.write(f"row counts: {problem}")
        self.stdout.write(report.audit_summary)
        for problem in report.key_problems:
            self.stderr.write(f"key ring: {problem}")
        if not report.ok:
            raise CommandError("the restore is NOT sound: see above")
        self.stdout.write(self.style.SUCCESS("restore checked: counts, audit trail and keys"))
