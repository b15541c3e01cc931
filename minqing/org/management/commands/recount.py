"""Rebuild the cumulative household/resident counts of every tree node."""

from django.core.management.base import BaseCommand

from minqing.org.services import recount_tree


class Command(BaseCommand):
    help = "Recompute the rolled-up counts of the organisation tree from the households."

    def handle(self, *args, **options):
        changed = recount_tree()
        self.stdout.write(f"{changed} nodes corrected")
