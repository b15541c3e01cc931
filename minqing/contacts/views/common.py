"""What the contact-network pages share: the place a page is about, and the refusal of a
user who may not change the network there."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.lib.views import forbidden
from minqing.org.models import Node
from minqing.org.views import scoped_node


class AuthedRequest(HttpRequest):
    """A request past the login middleware (``accounts.middleware.LoginRequiredMiddleware``):
    every contact-network page needs a signed-in user, so ``user`` is a ``User``."""

    user: User


def place_node(request: HttpRequest, pk: int, levels: tuple[str, ...]) -> Node:
    """The node ``pk`` in the user's scope, at one of ``levels`` (else 404)."""
    node = scoped_node(request, pk)
    if node.level not in levels:
        raise Http404
    return node


def not_manager(request: HttpRequest) -> HttpResponse:
    return forbidden(request, _("Only cadres of this place may change who looks after it."))
