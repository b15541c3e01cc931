"""Template context: the unread count of the header badge."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, new_method_proxy

from minqing.notifications.selectors import unread_count


class LazyCount(SimpleLazyObject):
    """A number computed on first use (and once)."""

    __int__ = new_method_proxy(int)


def unread(request: HttpRequest) -> dict[str, Any]:
    """``notifications_unread``: counted on first use, so one query on a page that shows the
    badge, none on a page (or htmx fragment) that does not, and none for anonymous users."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notifications_unread": LazyCount(lambda: unread_count(user))}
