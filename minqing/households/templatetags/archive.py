"""Rendering archive history in the reader's language."""

from __future__ import annotations

import datetime as dt

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.households.models import ArchiveChange, Household, Resident, VillageArchive
from minqing.households.selectors.shown import HouseholdShown, shown_birth_year
from minqing.lib.masking import mask_birth_date

register = template.Library()

EXTRA_LABELS = {"reason": gettext_lazy("Reason"), "node": gettext_lazy("Group/grid")}


@register.filter
def masked_for(value: str | None, shown: HouseholdShown | None) -> str:
    """Free text of a household as its reader may see it (children's names masked)."""
    return shown.text(value) if shown is not None else (value or "")


@register.filter
def born_year(resident: Resident) -> int | None:
    return shown_birth_year(resident)


def _birth_shown(value: str) -> str:
    try:
        return mask_birth_date(dt.date.fromisoformat(value))
    except ValueError:
        return value


@register.simple_tag
def change_rows(
    change: ArchiveChange, shown: HouseholdShown | None = None
) -> list[tuple[str, str, str]]:
    """[(label, old, new)] with field labels and choice values translated now, not when stored;
    a birth date shows its year only, and children's names are masked as on the page."""
    model: type[models.Model] = (
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
            field = None
        if not isinstance(field, models.Field):  # not a column (the history names columns)
            rows.append((field_name, old, new))
            continue
        if field.choices:
            labels = {str(k): str(v) for k, v in field.flatchoices}
            old, new = labels.get(old, old), labels.get(new, new)
        elif field.get_internal_type() == "BooleanField":
            old, new = (_("yes") if v == "1" else _("no") if v == "0" else v for v in (old, new))
        elif field_name == "birth_date":
            old, new = (_birth_shown(v) for v in (old, new))
        rows.append((str(field.verbose_name), old, new))
    if shown is not None:
        rows = [(label, shown.text(old), shown.text(new)) for label, old, new in rows]
    return rows
