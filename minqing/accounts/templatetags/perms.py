"""Pages ask the same question as services: ``{% allowed "reveal" household as can_reveal %}``.

The user is the request's; the place is anything ``permissions.place_path`` understands. A
button shows only where the service behind it would accept the request.
"""

from __future__ import annotations

from typing import Any

from django import template

from minqing.accounts.permissions import ROLES_FOR
from minqing.accounts.permissions import allowed as allowed_at

register = template.Library()


@register.simple_tag(takes_context=True)
def allowed(context: template.Context, action: str, place: Any) -> bool:
    """True when the request's user may take ``action`` at ``place``."""
    if action not in ROLES_FOR:
        # A misspelt action would silently hide a button forever: fail loudly instead.
        raise template.TemplateSyntaxError(f"unknown action {action!r}")
    request = context.get("request")
    user = getattr(request, "user", None) if request is not None else context.get("user")
    return allowed_at(user, action, place)
