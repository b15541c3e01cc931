"""The visits' landing page, offered to the organisation app's home page: people whose work is
their households land on "my households" (registered with ``org.hooks.register_landing``; the
organisation app imports every app's ``org_hooks`` at start-up and nothing else of visits)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from minqing.accounts.models import Role
from minqing.accounts.scope import Scope
from minqing.contacts.models import Liaison
from minqing.org import hooks

#: People whose work is their households: their home page is "my households".
FIELD_ROLES = frozenset(
    {Role.GROUP_LEADER, Role.REPRESENTATIVE, Role.PARTY_MEMBER, Role.GRID_WORKER}
)


def my_households(request: HttpRequest, scope: Scope, tree: bool) -> HttpResponse | None:
    if (
        scope.roles
        and scope.roles <= FIELD_ROLES
        and not tree
        and request.user.is_authenticated
        and Liaison.objects.filter(user=request.user, active=True).exists()
    ):
        return redirect("visits:mine")
    return None


hooks.register_landing(my_households, when="first", order=20)
