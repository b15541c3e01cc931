"""``minqing api_token``: issue, list and revoke API bearer tokens.

- ``minqing api_token USERNAME [--name N] [--expires-days D]``: issue one (default lifetime
  ``MINQING_API_TOKEN_DAYS``, 90 days) and print it once;
- ``minqing api_token --list [USERNAME]``: the tokens (prefix, user, name, dates, state);
- ``minqing api_token --revoke PREFIX``: revoke the token starting with PREFIX;
- ``minqing api_token --revoke-all USERNAME``: revoke every token of USERNAME.

Issuing and revoking are audited (``api_token.issue``; ``api_token.revoke``, reason "command").
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from minqing.accounts.models import ApiToken, User
from minqing.accounts.services import api_token_issue, api_token_revoke, normalise_username


class Command(BaseCommand):
    help = (
        "Issue a bearer token for /api/v1/ to USERNAME and print it (shown only now: the server "
        "keeps its hash), or --list, --revoke PREFIX, --revoke-all USERNAME. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", default="")
        parser.add_argument("--name", default="", help="what the token is for, e.g. the client")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="valid this many days (default: MINQING_API_TOKEN_DAYS, 90)",
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--list", action="store_true", help="list tokens (of USERNAME)")
        action.add_argument("--revoke", metavar="PREFIX", help="revoke the token with PREFIX")
        action.add_argument(
            "--revoke-all", action="store_true", help="revoke every token of USERNAME"
        )

    def _user(self, raw: str, *, active: bool) -> User:
        if not raw:
            raise CommandError("Name the user.")
        users = User.objects.filter(username=normalise_username(raw))
        if active:
            users = users.filter(is_active=True)
        user = users.first()
        if user is None:
            raise CommandError("No such active user." if active else "No such user.")
        return user

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            return self._list(options["username"])
        if options["revoke"]:
            return self._revoke(options["revoke"])
        if options["revoke_all"]:
            user = self._user(options["username"], active=False)
            tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
            count = 0
            for token in tokens:
                api_token_revoke(token=token, by=None, reason="command")
                count += 1
            self.stderr.write(f"Revoked {count} token(s) of {user.username}.")
            return None
        user = self._user(options["username"], active=True)
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
        return None

    def _list(self, raw: str) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("-created_at")
        if raw:
            tokens = tokens.filter(user=self._user(raw, active=False))
        now = timezone.now()
        for t in tokens:
            state = (
                "revoked"
                if t.revoked_at
                else "expired"
                if t.expires_at and t.expires_at <= now
                else "disabled"
                if not t.user.is_active
                else "active"
            )
            expires = f"{timezone.localtime(t.expires_at):%Y-%m-%d}" if t.expires_at else "never"
            used = f"{timezone.localtime(t.last_used_at):%Y-%m-%d %H:%M}" if t.last_used_at else "-"
            self.stdout.write(
                f"{t.prefix}\t{t.user.username}\t{t.name or '-'}\t"
                f"{timezone.localtime(t.created_at):%Y-%m-%d}\t{used}\t{expires}\t{state}"
            )

    def _revoke(self, prefix: str) -> None:
        prefix = prefix.strip().rstrip("…")
        matches = list(ApiToken.objects.select_related("user").filter(prefix__startswith=prefix))
        if len(prefix) < 7 or not matches:
            raise CommandError("No token starts with that prefix (give at least mq_ and 4 more).")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} tokens start with that prefix: give more of it.")
        token = matches[0]
        if token.revoked_at is not None:
            self.stderr.write(
                f"Token {token.prefix}… of {token.user.username} was already revoked."
            )
            return
        api_token_revoke(token=token, by=None, reason="command")
        self.stderr.write(f"Revoked token {token.prefix}… of {token.user.username}.")
