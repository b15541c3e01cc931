"""``minqing api_token USERNAME [--name N] [--expires-days D]``: issue an API bearer token."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from minqing.accounts.models import User
from minqing.accounts.services import api_token_issue


class Command(BaseCommand):
    help = (
        "Issue a bearer token for /api/v1/ to USERNAME and print it. The token is shown only "
        "now: the server keeps its hash. Audited as api_token.issue."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. the client")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="valid this many days (default: no end)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"], is_active=True)
        except User.DoesNotExist:
            raise CommandError("No such active user.") from None
        try:
            token, key = api_token_issue(
                user=user, name=options["name"], expires_days=options["expires_days"]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        until = (
            f", expires {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M %Z}"
            if token.expires_at
            else ""
        )
        self.stderr.write(f"Token {token.prefix}… for {user.username}{until}. Shown only once:")
        self.stdout.write(key)
