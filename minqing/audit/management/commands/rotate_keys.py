"""Rotate the personal-data keys: data key, blind-index key, sealed files."""

from django.core.management.base import BaseCommand, CommandError

from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.lib import crypto
from minqing.lib.rotation import StillInUse, keys_in_use, retire_old_keys, rotate_keys


class Command(BaseCommand):
    help = (
        "Add a new data key and a new blind-index key to the key ring, re-seal every "
        "personal-data value and sealed file and rewrite every blind index under them. "
        "--retire afterwards drops the old keys once nothing needs them."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retire",
            action="store_true",
            help="re-seal stragglers, check nothing is under an old key, drop the old keys",
        )
        parser.add_argument(
            "--keep-index-key", action="store_true", help="rotate the data key only"
        )

    def handle(self, *args, **options):
        if options["retire"]:
            try:
                report = retire_old_keys()
            except StillInUse as exc:
                raise CommandError(str(exc)) from exc
            action = AuditAction.KEYS_RETIRE
        else:
            report = rotate_keys(index=not options["keep_index_key"])
            action = AuditAction.KEYS_ROTATE
        ring = crypto.keyring()
        audit_record(
            action=action,
            username="(command line)",
            detail={
                "rows": report.rows,
                "files": report.files,
                "unreadable": {k: len(v) for k, v in report.unreadable.items()},
                "data_key": ring.current,
                "cipher": ring.algorithm(),
                "index_key": ring.index_current,
            },
        )
        for label, n in report.rows.items():
            self.stdout.write(f"{label}: {n} rows re-sealed")
        self.stdout.write(f"sealed files re-sealed: {report.files}")
        for label, pks in report.unreadable.items():
            self.stderr.write(
                f"{label}: {len(pks)} rows NOT readable (moved or altered ciphertext), "
                f"left as they are: {pks[:20]}"
            )
        if report.changed_meanwhile:
            self.stdout.write(f"rows edited during the rotation: {report.changed_meanwhile}")
        self.stdout.write(
            f"data key {ring.current} ({ring.algorithm().upper()}), index key "
            f"{ring.index_current}; "
            f"data keys still in use: {sorted(keys_in_use())}"
        )
        if ring.algorithm() != crypto.SM4_GCM:
            self.stdout.write(
                "SM4-GCM is not available in this cryptography/OpenSSL: the data key is "
                "AES-256-GCM (GB/T 39786 asks for SM4: rotate again on a build that has it)."
            )
        if not options["retire"]:
            self.stdout.write(
                "Old keys stay in the ring for reading; once every server runs with the new "
                "ring, run `minqing rotate_keys --retire` to drop them."
            )
