"""Rendering archive history in the reader's language."""

from __future__ import annotations

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.households.models import ArchiveChange, Household, Resident, VillageArchive

register = template.Library()

EXTRA_LABELS = {"reason": gettext_lazy("Reason"), "node": gettext_lazy("Group/grid")}


@register.simple_tag
def change_rows(change: ArchiveChange) -> list[tuple[str, str, str]]:
    """[(label, old, new)] with field labels and choice values translated now, not when stored."""
    model: type = (
        Resident if change.resident_name else (VillageArchive if change.village_id else Household)
    )
    rows = []
    for field_name, old, new in change.changes:
        if field_name in EXTRA_LABELS:
            rows.append((str(EXTRA_LABELS[field_name]), old, new))
            continue
        try:
            field = model._meta.get_field(field_name)
        except FieldDoesNotExist:
            rows.append((field_name, old, new))
            continue
        if field.choices:
            labels = {str(k): str(v) for k, v in field.flatchoices}
            old, new = labels.get(old, old), labels.get(new, new)
        elif field.get_internal_type() == "BooleanField":
            old, new = (_("yes") if v == "1" else _("no") if v == "0" else v for v in (old, new))
        rows.append((str(field.verbose_name), old, new))
    return rows
