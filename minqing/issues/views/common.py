"""What the issue pages share: the signed-in request, the issue a URL names (404 outside the
reader's scope) and a number from the URL (404 when malformed). A service's refusal goes
onto its form with ``lib.forms.add_errors``."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from minqing.issues import selectors
from minqing.issues.models import Issue


def issue_or_404(request: HttpRequest, pk: int) -> Issue:
    """The issue for its page, or 404 like a missing one when the reader may not see it."""
    try:
        return selectors.issue_for_page(request.user, pk)
    except Issue.DoesNotExist:
        raise Http404 from None


def int_or_404(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None
