"""How a quarterly-menu page refuses: 403 with the reason at a place of the reader's, 404 like
a missing page anywhere else (SECURITY §7: out-of-scope reads exactly like missing)."""

from __future__ import annotations

from django.http import Http404, HttpResponse

from minqing.accounts.middleware import AuthedRequest
from minqing.lib.views import forbidden
from minqing.menus.permissions import in_jurisdiction


def refused(request: AuthedRequest, reason: object, *paths: str) -> HttpResponse:
    """The refusal for a page about the places at ``paths`` (a county, a campaign's scope, a
    node, a household's path): why, when one of them is the reader's; else 404."""
    if any(in_jurisdiction(request.user, p) for p in paths if p):
        return forbidden(request, reason)
    raise Http404
