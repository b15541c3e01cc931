"""Contact cards (联系卡): the page before printing and the PDF.

Scope is checked by ``scoped_node`` (out of scope answers 404 like a missing place); printing
needs the reveal permission over the place (the cards carry full phone numbers).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.permissions import Action, allowed
from minqing.contacts import services
from minqing.contacts.card_print import (
    CardFontMissing,
    card_font,
    public_base_url,
    unreachable_host,
)
from minqing.contacts.selectors import CARD_LEVELS, card_households
from minqing.contacts.views.ledger import unavailable
from minqing.households.models import Household
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Node
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node


def _card_target(request: AuthedRequest, node_pk: int) -> tuple[Node, Household | None]:
    """The place (and the one household, ``?household=<id>``) whose cards are asked for."""
    node = scoped_node(request, node_pk)
    household = None
    if request.GET.get("household"):
        raw = request.GET["household"]
        if not raw.isdigit():
            raise Http404
        household = get_object_or_404(Household.objects.visible_to(request.user), pk=int(raw))
    return node, household


def _card_page(
    request: HttpRequest, node: Node, household: Household | None, *, status: int = 200
) -> HttpResponse:
    """The page before printing: how many cards, and what would make them useless."""
    try:
        card_font()
        font_problem = ""
    except CardFontMissing as exc:
        font_problem = str(exc)
    base_url = public_base_url(request)
    count = card_households(node, household).count()
    query = QueryDict(mutable=True)
    if household is not None:
        query["household"] = str(household.pk)
    return render(
        request,
        "contacts/cards.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "household": household,
            "count": count,
            "font_problem": font_problem,
            "base_url": base_url,
            "unreachable": unreachable_host(base_url),
            "query": query.urlencode(),
        },
        status=status,
    )


def _may_print(request: AuthedRequest, node: Node) -> HttpResponse | None:
    """The answer that stops printing here (wrong level, no reveal role), or None."""
    if node.level not in CARD_LEVELS:
        return unavailable(
            request, node, _("Contact cards are printed for a village, an area or a grid.")
        )
    if not allowed(request.user, Action.REVEAL, node):
        return forbidden(request, _("Your role may not print full phone numbers."))
    return None


@require_GET
def cards(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """联系卡: the page before printing (count, missing font, unreachable public address)."""
    node, household = _card_target(request, node_pk)
    if (refused := _may_print(request, node)) is not None:
        return refused
    if household is not None and not card_households(node, household).exists():
        raise Http404
    return _card_page(request, node, household)


@require_GET
def cards_pdf(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """联系卡 as a PDF: every household of a village/grid, or ``?household=<id>``.
    Without an embeddable font, the card page (503) says what to install instead."""
    node, household = _card_target(request, node_pk)
    if (refused := _may_print(request, node)) is not None:
        return refused
    try:
        data, _count = services.cards_pdf(
            by=request.user,
            node=node,
            household=household,
            base_url=public_base_url(request),
            context=AuditContext.of(request),
        )
    except (Node.DoesNotExist, Household.DoesNotExist):
        raise Http404 from None
    except PermissionDenied as exc:
        return forbidden(request, exc)
    except CardFontMissing:
        return _card_page(request, node, household, status=503)
    name = f"联系卡-{household.number if household else node.name}.pdf"
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, name) or "inline"
    response["Cache-Control"] = "no-store"
    return response
