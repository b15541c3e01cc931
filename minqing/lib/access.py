"""Who may reach a view without logging in: the marker the deny-by-default middleware reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

V = TypeVar("V", bound=Callable[..., Any])


def public(view: V) -> V:
    """Mark a view as reachable without logging in (docs/SECURITY-BAR.md §6: every other URL needs
    one)."""
    view.minqing_public = True  # type: ignore[attr-defined]  # a marker attribute on a function
    return view


def is_public(view: Any) -> bool:
    target = getattr(view, "view_class", view)
    return bool(getattr(view, "minqing_public", False) or getattr(target, "minqing_public", False))
