"""Rotate the personal-data encryption key."""

from django.core.management.base import BaseCommand

from minqing.audit.services import audit_record
from minqing.lib.rotation import keys_in_use, rotate_keys


class Command(BaseCommand):
    help = "Add a new data key to the key ring and re-encrypt every personal-data value with it."

    def handle(self, *args, **options):
        counts = rotate_keys()
        audit_record(action="keys.rotate", username="(command line)", detail=counts)
        for label, n in counts.items():
            self.stdout.write(f"{label}: {n} rows re-encrypted")
        self.stdout.write(f"keys still in use: {sorted(keys_in_use())}")
