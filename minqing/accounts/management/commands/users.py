"""``minqing users list|create|disable|enable|grant|revoke|reset-password|reset-otp``.

The security administrator's account management from the server's shell (the pages do the same
through the same services, ``accounts.services.admin``). Every change is audited with
``via: command``; passwords made here are printed once, on standard output.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from minqing.accounts.models import Role, RoleAssignment, User
from minqing.accounts.services import admin as services_admin
from minqing.accounts.services import normalise_username
from minqing.accounts.services.admin import COMMAND_LINE
from minqing.org.models import Department, Node


def _user(username: str) -> User:
    try:
        return User.objects.get(username=normalise_username(username))
    except User.DoesNotExist:
        raise CommandError(f"No user {username!r}.") from None


def _node(value: str | None) -> Node | None:
    if not value:
        return None
    found = Node.objects.filter(Q(code=value) | Q(name=value))
    if value.isdigit():
        found = Node.objects.filter(Q(pk=int(value)) | Q(code=value))
    nodes = list(found[:2])
    if len(nodes) != 1:
        raise CommandError(f"--node {value!r} names {len(nodes) or 'no'} places; give its id.")
    return nodes[0]


def _department(value: str | None) -> Department | None:
    if not value:
        return None
    found = Department.objects.filter(Q(code=value) | Q(name=value))
    if value.isdigit():
        found = Department.objects.filter(pk=int(value))
    departments = list(found[:2])
    if len(departments) != 1:
        raise CommandError(f"--department {value!r} names {len(departments) or 'no'} units.")
    return departments[0]


class Command(BaseCommand):
    help = (
        "Manage accounts and roles (the security administrator's work): list, create, "
        "disable, enable, grant, revoke, reset-password, reset-otp. Every change is audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="accounts with their roles")
        listing.add_argument("--search", default="", help="part of the username or name")
        listing.add_argument("--role", choices=Role.values)
        create = sub.add_parser("create", help="a new account; prints its initial password")
        create.add_argument("username")
        create.add_argument("--full-name", default="")
        create.add_argument("--phone", default="")
        create.add_argument("--role", choices=Role.values, help="grant this role too")
        create.add_argument("--node", help="id, official code or name of the role's place")
        create.add_argument("--department", help="id, code or name of the role's unit")
        for name, text in (
            ("disable", "disable an account: its sessions and API tokens end"),
            ("enable", "enable an account again"),
            ("reset-password", "a new random password, printed once"),
            ("reset-otp", "remove the account's authenticator and recovery codes"),
        ):
            sub.add_parser(name, help=text).add_argument("username")
        for name, text in (("grant", "grant a role"), ("revoke", "revoke a role")):
            action = sub.add_parser(name, help=text)
            action.add_argument("username")
            action.add_argument("role", choices=Role.values)
            action.add_argument("--node", help="id, official code or name of the place")
            action.add_argument("--department", help="id, code or name of the unit")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, "do_" + action.replace("-", "_"))(options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

    def do_list(self, options: dict[str, Any]) -> None:
        users = User.objects.order_by("username").prefetch_related(
            "roles__node", "roles__department"
        )
        if options["search"]:
            term = options["search"]
            users = users.filter(Q(username__icontains=term) | Q(full_name__icontains=term))
        if options["role"]:
            users = users.filter(roles__role=options["role"]).distinct()
        for user in users:
            roles = ", ".join(
                f"{a.role}@{a.node or a.department}" if (a.node or a.department) else a.role
                for a in user.roles.all()
            )
            state = "" if user.is_active else " [disabled]"
            self.stdout.write(f"{user.username}\t{user.full_name}\t{roles or '-'}{state}")

    def do_create(self, options: dict[str, Any]) -> None:
        node, department = _node(options["node"]), _department(options["department"])
        user, password = services_admin.user_create(
            by=COMMAND_LINE,
            username=options["username"],
            full_name=options["full_name"],
            phone=options["phone"],
        )
        if options["role"]:
            services_admin.role_grant(
                by=COMMAND_LINE, user=user, role=options["role"], node=node, department=department
            )
        self.stderr.write(
            f"Account {user.username} created; the password must be changed at the first "
            "login. Shown only once:"
        )
        self.stdout.write(password)

    def do_disable(self, options: dict[str, Any]) -> None:
        user = services_admin.user_disable(by=COMMAND_LINE, user=_user(options["username"]))
        self.stderr.write(f"{user.username} disabled; sessions and API tokens ended.")

    def do_enable(self, options: dict[str, Any]) -> None:
        user = services_admin.user_enable(by=COMMAND_LINE, user=_user(options["username"]))
        self.stderr.write(f"{user.username} enabled.")

    def do_reset_password(self, options: dict[str, Any]) -> None:
        user = _user(options["username"])
        password = services_admin.user_password_reset(by=COMMAND_LINE, user=user)
        self.stderr.write(f"New password for {user.username} (must be changed at login):")
        self.stdout.write(password)

    def do_reset_otp(self, options: dict[str, Any]) -> None:
        user = _user(options["username"])
        had = services_admin.user_otp_reset(by=COMMAND_LINE, user=user)
        self.stderr.write(
            f"Two-step verification of {user.username} reset."
            if had
            else f"{user.username} had no authenticator."
        )

    def do_grant(self, options: dict[str, Any]) -> None:
        user = _user(options["username"])
        services_admin.role_grant(
            by=COMMAND_LINE,
            user=user,
            role=options["role"],
            node=_node(options["node"]),
            department=_department(options["department"]),
        )
        self.stderr.write(f"{options['role']} granted to {user.username}.")

    def do_revoke(self, options: dict[str, Any]) -> None:
        user = _user(options["username"])
        node, department = _node(options["node"]), _department(options["department"])
        assignments = list(
            RoleAssignment.objects.filter(
                user=user, role=options["role"], node=node, department=department
            )
        )
        if not assignments:
            raise CommandError(f"{user.username} does not hold {options['role']} there.")
        for assignment in assignments:
            services_admin.role_revoke(by=COMMAND_LINE, assignment=assignment)
        self.stderr.write(f"{options['role']} revoked from {user.username}.")
