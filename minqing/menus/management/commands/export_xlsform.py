"""``minqing export_xlsform (--checklist ID | --menu ID [--number N] [--version urban|rural])
--out FILE``: write a checklist or a menu version as an XLSForm .xlsx (pyxform converts it).

A menu's version is its latest published one unless ``--number`` names another; ``--version``
keeps only the questions an urban or a rural household is asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Write a department checklist or a menu version as an XLSForm .xlsx file."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # ``--version urban|rural`` (the words) replaces Django's own ``--version``.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--checklist", type=int)
        which.add_argument("--menu", type=int)
        parser.add_argument("--number", type=int, help="the menu's version number")
        parser.add_argument("--version", choices=["urban", "rural"], default=None)
        parser.add_argument("--out", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        from minqing.menus.models import Checklist, MenuVersion, VersionState
        from minqing.menus.services.authoring import checklist_form, version_form
        from minqing.menus.xlsform import write_xlsform

        out = Path(options["out"])
        if out.suffix.lower() != ".xlsx":
            raise CommandError("--out must end in .xlsx")
        if options["checklist"]:
            checklist = Checklist.objects.filter(pk=options["checklist"]).first()
            if checklist is None:
                raise CommandError(f"No checklist {options['checklist']}.")
            form = checklist_form(checklist)
            if options["version"]:
                form = form.for_place(options["version"])
        else:
            versions = MenuVersion.objects.filter(menu_id=options["menu"]).select_related("menu")
            if options["number"]:
                version = versions.filter(number=options["number"]).first()
            else:
                version = (
                    versions.filter(state=VersionState.PUBLISHED).order_by("-number").first()
                    or versions.order_by("-number").first()
                )
            if version is None:
                raise CommandError(f"No such version of menu {options['menu']}.")
            form = version_form(version, options["version"])
        write_xlsform(form, out)
        self.stdout.write(str(out))
