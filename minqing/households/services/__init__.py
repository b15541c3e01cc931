"""State changes of the household archives: one record at a time (``archive``), a whole ledger
in one transaction (``bulk``), and the field rules both apply to their input (``validation``)."""

from minqing.households.models import HOUSEHOLD_FIELDS, RESIDENT_FIELDS, SENSITIVE_FIELDS
from minqing.households.services.archive import (
    CHANGED,
    ID_NOT_REGISTRABLE,
    MISSING_VERSION,
    apply_changes,
    household_create,
    household_update,
    require_edit,
    require_version,
    resident_add,
    resident_remove,
    resident_update,
    reveal,
    village_archive_update,
)
from minqing.households.services.bulk import (
    HouseholdImport,
    ImportCounts,
    ResidentImport,
    households_import,
)
from minqing.households.services.validation import clean_household, clean_resident

__all__ = [
    "CHANGED",
    "HOUSEHOLD_FIELDS",
    "ID_NOT_REGISTRABLE",
    "MISSING_VERSION",
    "RESIDENT_FIELDS",
    "SENSITIVE_FIELDS",
    "HouseholdImport",
    "ImportCounts",
    "ResidentImport",
    "apply_changes",
    "clean_household",
    "clean_resident",
    "household_create",
    "household_update",
    "households_import",
    "require_edit",
    "require_version",
    "resident_add",
    "resident_remove",
    "resident_update",
    "reveal",
    "village_archive_update",
]
