"""Household archive endpoints of /api/v1/: the tree, household pages, search and reveal.

Personal data leaves the server masked; the reveal endpoint is the only way to a full value
and it writes an audit row, exactly as the page does. Out-of-scope objects answer 404 exactly
like missing ones (the API-wide handler gives both one body).
"""

from __future__ import annotations

from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import register_converter
from django.utils.translation import gettext_lazy
from ninja import Router, Schema

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.permissions import minors_visible
from minqing.accounts.scope import scope_for
from minqing.api import error_responses
from minqing.households import selectors, services
from minqing.households.models import Household, Resident
from minqing.households.selectors.shown import HouseholdShown, shown_birth_year
from minqing.lib.context import AuditContext
from minqing.org.models import Node
from minqing.org.selectors import children_of, nodes_visible_to

router = Router(tags=["households"])


class RevealKindConverter:
    """Only the two revealable kinds match the reveal URL, so it shadows no other app's."""

    regex = "households|residents"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RevealKindConverter, "revealkind")


class NodeOut(Schema):
    """One place in the organisation tree with its cumulative counts."""

    id: int
    name: str
    level: str
    level_name: str
    code: str
    kind: str
    parent: int | None
    households: int
    residents: int


class NodeDetailOut(NodeOut):
    children: list[NodeOut]


class ResidentOut(Schema):
    """A household member; ID number and phone masked, the birth date shown as its year only
    (the full date only through a reveal of the ID number: ``minqing.lib.masking``)."""

    id: int
    name: str
    relation: str
    sex: str
    birth_year: int | None
    id_number: str
    phone: str
    politics: str
    education: str
    occupation: str
    works_away: bool
    health: str
    minor: bool


class RestrictedResidentOut(Schema):
    """A child under 14 shown to a role without the minors permission (docs/SECURITY-BAR.md §12)."""

    id: int
    restricted: Literal[True]
    relation: str


class HouseholdOut(Schema):
    """One household page (一户一页); phone masked; its children's names masked in the free
    text for readers without the minors permission here."""

    id: int
    number: str
    head_name: str
    address: str
    village: int
    node: int
    phone: str
    tags: list[str]
    income_source: str
    family_situation: str
    version: int
    members: list[ResidentOut | RestrictedResidentOut]


class SearchHouseholdOut(Schema):
    id: int
    number: str
    head_name: str
    address: str
    village: str


class SearchResidentOut(Schema):
    """A resident found; a minor's name is cut to its first character for roles without the
    minors permission."""

    id: int
    household: int
    name: str


class SearchOut(Schema):
    query: str
    kind: Literal["id_number", "phone", "text"]
    nodes: list[NodeOut]
    households: list[SearchHouseholdOut]
    residents: list[SearchResidentOut]


class RevealIn(Schema):
    field: str = ""


class RevealOut(Schema):
    field: str
    value: str


def _masked(value: Any) -> str:
    return str(value) if value else ""


def _node(node: Node) -> dict[str, Any]:
    return {
        "id": node.pk,
        "name": node.name,
        "level": node.level,
        "level_name": node.display_level,
        "code": node.code,
        "kind": node.kind,
        "parent": node.parent_id,
        "households": node.household_count,
        "residents": node.resident_count,
    }


def _resident(r: Resident, shown: HouseholdShown) -> dict[str, Any]:
    if shown.restricted(r):
        return {"id": r.pk, "restricted": True, "relation": r.relation}
    return {
        "id": r.pk,
        "name": r.name,
        "relation": r.relation,
        "sex": r.sex,
        "birth_year": shown_birth_year(r),
        "id_number": _masked(r.id_number),
        "phone": _masked(r.phone),
        "politics": r.politics,
        "education": shown.field(r, "education"),
        "occupation": shown.field(r, "occupation"),
        "works_away": r.works_away,
        "health": r.health,
        "minor": r.is_minor,
    }


def _household(h: Household, shown: HouseholdShown) -> dict[str, Any]:
    return {
        "id": h.pk,
        "number": h.number,
        "head_name": h.head_name,
        "address": shown.field(h, "address"),
        "village": h.village_id,
        "node": h.node_id,
        "phone": _masked(h.phone),
        "tags": [t.code for t in h.tags.all()],
        "income_source": shown.field(h, "income_source"),
        "family_situation": shown.field(h, "family_situation"),
        "version": h.version,
        "members": [_resident(r, shown) for r in shown.members],
    }


class MeOut(Schema):
    id: int
    username: str
    name: str
    roles: list[str]


@router.get("me/", url_name="me", response={200: MeOut, **error_responses()})
def me(request: HttpRequest) -> dict[str, Any]:
    """Who the token or session belongs to: a cheap "am I still logged in?" for clients."""
    user = request.user
    return {
        "id": user.pk,
        "username": user.username,
        "name": str(user),
        "roles": sorted(scope_for(user).roles),
    }


@router.get(
    "nodes/{int:pk}/", url_name="node", response={200: NodeDetailOut, **error_responses(404)}
)
def node_detail(request: HttpRequest, pk: int) -> dict[str, Any]:
    """A place in the tree and its children."""
    node = get_object_or_404(nodes_visible_to(request.user), pk=pk)
    return {**_node(node), "children": [_node(c) for c in children_of(node)]}


@router.get(
    "households/{int:pk}/",
    url_name="household",
    response={200: HouseholdOut, **error_responses(404)},
)
def household_detail(request: HttpRequest, pk: int) -> dict[str, Any]:
    """One household with its members."""
    household = selectors.household_for_page(request.user, pk)
    return _household(household, HouseholdShown(request.user, household))


class SearchIn(Schema):
    q: str = ""


PRIVATE_IN_URL = gettext_lazy(
    "ID numbers and phone numbers are not searched from the address (addresses are kept in "
    "logs): send them in the body of POST /api/v1/search/."
)


@router.get("search/", url_name="search", response={200: SearchOut, **error_responses(400)})
def search(request: HttpRequest, q: str = "") -> dict[str, Any]:
    """Name, address, household number or place prefix. An ID number or phone (any run of
    seven or more digits) is refused here (400): POST it, so it never stands in a URL."""
    if selectors.query_is_private(q):
        raise ValidationError({"q": [PRIVATE_IN_URL]})
    return _search_answer(request, q)


@router.post("search/", url_name="search", response={200: SearchOut, **error_responses(400)})
def search_post(request: HttpRequest, payload: SearchIn) -> dict[str, Any]:
    """Exact ID number or phone (through the keyed hash), else as the GET search; the query
    travels in the body."""
    return _search_answer(request, payload.q)


def _search_answer(request: HttpRequest, q: str) -> dict[str, Any]:
    results = selectors.search(request.user, q)
    return {
        "query": results.query,
        "kind": results.kind,
        "nodes": [_node(n) for n in results.nodes],
        "households": [
            {
                "id": h.pk,
                "number": h.number,
                "head_name": h.head_name,
                "address": h.address,
                "village": h.village.name,
            }
            for h in results.households
        ],
        "residents": [
            {
                "id": r.pk,
                "household": r.household_id,
                # decided per resident: one search can list two villages' residents
                "name": r.name if minors_visible(request.user, r) else r.name[:1] + "*",
            }
            for r in results.residents
        ],
    }


@router.post(
    "{revealkind:kind}/{int:pk}/reveal/",
    url_name="reveal",
    response={200: RevealOut, **error_responses(400, 403, 404)},
)
def reveal(
    request: AuthedRequest,
    kind: Literal["households", "residents"],
    pk: int,
    payload: RevealIn,
    response: HttpResponse,
) -> dict[str, str]:
    """The full value of one masked field (``id_number``, ``phone``, …); writes one audit row."""
    obj: Household | Resident
    if kind == "households":
        obj = selectors.household_for_page(request.user, pk)
    elif kind == "residents":
        obj = get_object_or_404(
            Resident.objects.visible_to(request.user).select_related("household__node"), pk=pk
        )
    else:  # pragma: no cover - the URL converter admits no other kind
        raise Http404
    value = services.reveal(
        by=request.user, obj=obj, field=payload.field, context=AuditContext.of(request)
    )
    response["Cache-Control"] = "no-store"
    return {"field": payload.field, "value": value}
