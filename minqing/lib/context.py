"""Who asked, from where: what a service needs of the request to audit and limit it.

Services never take the ``HttpRequest``: a view passes ``AuditContext.of(request)``, the
command line and the worker pass nothing (``None``, or ``AuditContext.system("worker")``).
The audit trail records ``ip``; rate limits count per ``ip`` where no user is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Where an action came from, as the audit trail records it."""

    ip: str = ""
    #: "web", "api", "cli", "worker" (free text for other callers; informational)
    via: str = ""

    @overload
    @classmethod
    def of(cls, request: HttpRequest | AuditContext) -> AuditContext: ...

    @overload
    @classmethod
    def of(cls, request: None) -> None: ...

    @overload
    @classmethod
    def of(cls, request: Any) -> AuditContext | None: ...

    @classmethod
    def of(cls, request: Any) -> AuditContext | None:
        """The context of a Django request (``None`` passes through)."""
        if request is None:
            return None
        if isinstance(request, AuditContext):
            return request
        via = "api" if str(getattr(request, "path", "")).startswith("/api/") else "web"
        return cls(ip=str(request.META.get("REMOTE_ADDR", ""))[:45], via=via)

    @classmethod
    def system(cls, via: str = "cli") -> AuditContext:
        return cls(ip="", via=via)


def client_ip(context: Any) -> str:
    """The client address of a context or a request (``""`` for none)."""
    ctx = AuditContext.of(context)
    return ctx.ip if ctx is not None else ""
