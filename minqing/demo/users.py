"""Demo accounts: one per kind of user, with fresh random passwords on every start.

No password is fixed or derivable: ``reset_demo_passwords`` draws new ones from ``secrets`` each
time the demo starts, checks them against ``AUTH_PASSWORD_VALIDATORS`` and prints them once.
"""

from __future__ import annotations

import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from minqing.accounts.models import Role, RoleAssignment, User
from minqing.accounts.services import role_assign
from minqing.audit.services import audit_record
from minqing.demo import names
from minqing.org.models import Department, Kind, Node

if TYPE_CHECKING:
    from minqing.demo.plan import CountyPlan, VillagePlan

#: username → (role, where: "county", "town", "village", "grid" (nodes around the demo village),
#: "department:<code>" (a county department or co-building unit), or None)
DEMO_USERS: dict[str, tuple[str, str | None]] = {
    "county": (Role.COMMAND_CENTRE, "county"),
    "town": (Role.TOWN_STAFF, "town"),
    "village": (Role.VILLAGE_CADRE, "village"),
    "grid": (Role.GRID_WORKER, "grid"),
    "leader": (Role.GROUP_LEADER, "grid"),
    "water": (Role.DEPARTMENT, "department:water"),
    "shop": (Role.CO_BUILDING_UNIT, "department:shop"),
    "auditor": (Role.AUDITOR, None),
    "secadmin": (Role.SECURITY_ADMIN, None),
    "sysadmin": (Role.SYSTEM_ADMIN, None),
}
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    scope: str
    password: str


def demo_village(plan: CountyPlan) -> VillagePlan:
    """A mid-sized rural village, preferably one with 片, so the demo shows a deeper tree."""
    rural = [v for v in plan.villages if v.node.kind == Kind.RURAL] or plan.villages
    with_areas = [v for v in rural if any(g.node.depth > v.node.depth + 1 for g in v.grids)]
    pool = sorted(with_areas or rural, key=lambda v: v.households)
    return pool[len(pool) // 2]


def create_demo_users(plan: CountyPlan) -> list[str]:
    """Create (or re-point) the demo accounts and their roles; passwords stay unusable."""
    village = demo_village(plan)
    town_id = village.node.parent_id
    assert town_id is not None  # a village is always under a town
    nodes = {
        "county": plan.county.id,
        "town": town_id,
        "village": village.node.id,
        "grid": village.grids[0].node.id,
    }
    rng = random.Random()
    for username, (role, where) in DEMO_USERS.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            sex = "M" if rng.random() < 0.6 else "F"
            user = User(
                username=username,
                full_name=names.surname(rng) + names.given_name(rng, sex, rng.randint(1970, 1995)),
                phone=names.phone(rng),
            )
            user.set_unusable_password()
            user.save()
        RoleAssignment.objects.filter(user=user).delete()
        if where and where.startswith("department:"):
            department = Department.objects.get(
                county_id=plan.county.id, code=where.partition(":")[2]
            )
            role_assign(user=user, role=role, department=department)
            continue
        node = Node.objects.get(pk=nodes[where]) if where else None
        role_assign(user=user, role=role, node=node)
    return list(DEMO_USERS)


def new_password(user: User | None = None) -> str:
    """Three groups of four (e.g. ``kP7q-Xm3z-R8tw``): ~69 bits, easy to read off a screen."""
    while True:
        alphabet = _LOWER + _UPPER + _DIGITS
        groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3)]
        password = "-".join(groups)
        if not (
            any(c in _LOWER for c in password)
            and any(c in _UPPER for c in password)
            and any(c in _DIGITS for c in password)
        ):
            continue
        try:
            validate_password(password, user)
        except ValidationError:
            continue
        return password


def _scope_text(assignment: RoleAssignment | None) -> str:
    if assignment is not None and assignment.department is not None:
        department = assignment.department
        return f"{department.county.name} › {department.name}"
    if assignment is None or assignment.node is None:
        return "系统 (system)"
    node = assignment.node
    chain = list(Node.objects.ancestors_of(node, include_self=True))
    return " › ".join(n.name for n in chain)


def reset_demo_passwords() -> list[Login]:
    """Give every demo account a fresh random password; returns them for printing once."""
    users = list(User.objects.filter(username__in=list(DEMO_USERS)).order_by("id"))
    passwords = {u.username: new_password(u) for u in users}
    # PBKDF2 releases the GIL: hash the passwords side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        hashes = dict(zip(passwords, pool.map(make_password, passwords.values()), strict=True))
    logins: list[Login] = []
    now = timezone.now()
    with transaction.atomic():
        for user in users:
            User.objects.filter(pk=user.pk).update(
                password=hashes[user.username], password_changed_at=now, is_active=True
            )
            assignment = (
                RoleAssignment.objects.filter(user=user)
                .select_related("node", "department__county")
                .first()
            )
            role = assignment.get_role_display() if assignment else ""
            logins.append(
                Login(user.username, str(role), _scope_text(assignment), passwords[user.username])
            )
        audit_record(
            action="demo.passwords_reset",
            username="minqing demo",
            detail={"users": [u.username for u in users]},
        )
    order = list(DEMO_USERS)
    return sorted(logins, key=lambda login: order.index(login.username))


def logins_table(logins: list[Login]) -> str:
    """A small plain-text table of the logins."""
    rows = [("username", "role", "scope", "password")] + [
        (x.username, x.role, x.scope, x.password) for x in logins
    ]
    widths = [max(_width(r[i]) for r in rows) for i in range(4)]
    lines = []
    for k, row in enumerate(rows):
        lines.append(
            "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True))
        )
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)
