"""What the contact-network pages share: the place a page is about, and the refusal of a
user who may not change the network there."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from minqing.lib.views import forbidden
from minqing.org.models import Node
from minqing.org.views import scoped_node


def place_node(request: HttpRequest, pk: int, levels: tuple[str, ...]) -> Node:
    """The node ``pk`` in the user's scope, at one of ``levels`` (else 404)."""
    node = scoped_node(request, pk)
    if node.level not in levels:
        raise Http404
    return node


def not_manager(request: HttpRequest) -> HttpResponse:
    return forbidden(request, _("Only cadres of this place may change who looks after it."))
