"""Where the apps above org add to its pages and counts without org importing them.

Org sits low in the layers (households, issues, contacts and visits stand on the tree), yet its
pages show their work: the landing page sends a command centre to the county's issue figures,
a department to its desk, a liaison to their households; a village's page lists its households;
``recount`` rebuilds the tree's counts from the households. Each higher app registers its part
in its ``AppConfig.ready()``; templates load the higher app's tag library (as the household page
loads the visits' tags).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from minqing.accounts.scope import Scope

#: ``landing(request, scope, tree)``: the page to answer instead of the tree of places, or None.
#: ``tree`` is true when the user asked for the tree itself (``?tree=1``).
Landing = Callable[[HttpRequest, "Scope", bool], HttpResponse | None]
When = Literal["first", "no_places"]

_LANDINGS: dict[str, list[tuple[int, Landing]]] = {"first": [], "no_places": []}

#: ``() -> (households per node, residents per node)``, each node's own (not its subtree's).
OwnCounts = Callable[[], tuple[dict[int, int], dict[int, int]]]
_OWN_COUNTS: list[OwnCounts] = []


def register_landing(landing: Landing, *, when: When, order: int) -> None:
    """Offer a landing page: ``first`` ones are asked in ``order`` before the user's places are
    read, ``no_places`` ones when the user holds no place of the tree."""
    entries = _LANDINGS[when]
    if all(fn is not landing for _order, fn in entries):
        entries.append((order, landing))
        entries.sort(key=lambda e: e[0])


def landing_for(
    request: HttpRequest, scope: Scope, tree: bool, *, when: When
) -> HttpResponse | None:
    for _order, landing in _LANDINGS[when]:
        response = landing(request, scope, tree)
        if response is not None:
            return response
    return None


def provide_own_counts(counts: OwnCounts) -> None:
    """The households app says how many households and residents each node holds itself."""
    if counts not in _OWN_COUNTS:
        _OWN_COUNTS.append(counts)


def own_counts() -> tuple[dict[int, int], dict[int, int]]:
    households: dict[int, int] = {}
    residents: dict[int, int] = {}
    for counts in _OWN_COUNTS:
        hh, rs = counts()
        for pk, n in hh.items():
            households[pk] = households.get(pk, 0) + n
        for pk, n in rs.items():
            residents[pk] = residents.get(pk, 0) + n
    return households, residents
