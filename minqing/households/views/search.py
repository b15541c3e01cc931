"""The search page (the top bar's search)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from minqing.households import selectors


@csrf_exempt  # it only reads; error pages carry no token and post it from the top bar
@require_http_methods(["GET", "POST"])
def search_view(request: HttpRequest) -> HttpResponse:
    """The search page. Its form posts; a search for words is then redirected to a shareable
    ``?q=`` address, but one for an ID number or phone is answered to the POST itself, so the
    number never stands in a URL (nor in a proxy's log, the history or a Referer). A ``?q=``
    holding such a number is not searched: the bare search page says to use the form. The
    POST changes nothing, so it needs no CSRF token (another site's page could make a
    browser search, but never read the answer)."""
    if request.method == "POST":
        query = request.POST.get("q", "").strip()
        if not selectors.query_is_private(query):
            return redirect(f"{reverse('households:search')}?{urlencode({'q': query})}")
        return _search_page(request, query)
    query = request.GET.get("q", "")
    if selectors.query_is_private(query):
        # Off the address at once: not searched, not echoed, not kept in the history entry.
        messages.error(request, PRIVATE_IN_URL)
        return redirect("households:search")
    return _search_page(request, query)


PRIVATE_IN_URL = gettext_lazy(
    "ID numbers and phone numbers are searched through this form only, never in the address "
    "bar (addresses are kept in logs). Type the number again below."
)


def _search_page(request: HttpRequest, query: str) -> HttpResponse:
    results = selectors.search(request.user, query)
    return render(request, "households/search.html", {"results": results, "search_query": query})
