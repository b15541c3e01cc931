"""What a refused request must leave as it was: the archive's rows, its history, the audit trail
and the ledger imports (a refusal test asserts ``writes()`` is the same before and after)."""

from __future__ import annotations

from minqing.audit.models import AuditEvent
from minqing.households.models import (
    ArchiveChange,
    Household,
    LedgerImport,
    Resident,
    VillageArchive,
)


def writes() -> tuple[object, ...]:
    return (
        Household.objects.count(),
        Resident.objects.count(),
        VillageArchive.objects.count(),
        ArchiveChange.objects.count(),
        AuditEvent.objects.count(),
        tuple(LedgerImport.objects.order_by("pk").values_list("pk", "status")),
        tuple(Household.objects.order_by("pk").values_list("pk", "version")),
        tuple(Resident.objects.order_by("pk").values_list("pk", "version")),
    )
