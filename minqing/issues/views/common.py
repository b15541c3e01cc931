"""What the issue pages share: the issue a URL names (404 outside the reader's scope), a
number from the URL (404 when malformed), and a service's refusal shown on its form."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest

from minqing.accounts.models import User
from minqing.issues import selectors
from minqing.issues.models import Issue


class AuthedRequest(HttpRequest):
    """A request past the login middleware (``accounts.middleware``): every issue page and
    API operation needs a signed-in user, so ``user`` is a ``User``."""

    user: User


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


def file_errors(form: Any, exc: ValidationError) -> None:
    """A service's ValidationError on the form: field errors on their fields, the rest on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
