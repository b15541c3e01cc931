"""The worker's audit job (``MINQING_PERIODIC_JOBS``: ``audit.seal`` and ``audit.seal_all``)."""

from __future__ import annotations

from typing import Any

from minqing.audit.chain import seal_pending


def seal(*, full: bool = False) -> dict[str, Any]:
    """Seal the rows written since the last run and anchor the chain's head outside the
    database. ``full``: look at every row (an hourly run), not only the last hour's."""
    result = seal_pending(full=full)
    return {
        "sealed": result["sealed"],
        "position": result["position"],
        "refused": result["refused"],
    }
