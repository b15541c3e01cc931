"""Reading the audit trail as a county auditor does: filtered, in words, whose record and which
field ("户 A001 王**：身份证号"), people's names masked as on public pages. (The trail itself,
written by every app, is minqing.audit.)

Every page reads a constant number of queries: the count, the page's rows, and one query per
kind of record the page names (households, residents, liaisons), whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.audit.actions import AuditAction
from minqing.audit.models import AuditEvent
from minqing.lib.masking import mask_name


def action_label(action: str) -> str:
    """An action in the page's words (``AuditAction``'s labels; an action no longer written
    reads as its stored name)."""
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action


def action_choices() -> list[tuple[str, str]]:
    """Every action the filter offers, by its words (issue steps included)."""
    return sorted(
        ((a.value, str(a.label)) for a in AuditAction), key=lambda c: (c[0].split(".")[0], c[1])
    )


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def as_detail(self) -> dict[str, str]:
        """The filter as an audit detail (what an export covered)."""
        return {
            k: str(v)
            for k, v in (
                ("user", self.username),
                ("action", self.action),
                ("from", self.date_from or ""),
                ("to", self.date_to or ""),
            )
            if v
        }


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_events(f: AuditFilter) -> QuerySet[AuditEvent]:
    """The events ``f`` selects, newest first; the dates are whole local days, both included."""
    events = AuditEvent.objects.order_by("-id")
    if f.username:
        events = events.filter(username=f.username)
    if f.action:
        events = events.filter(action=f.action)
    if f.date_from:
        events = events.filter(at__gte=_day_start(f.date_from))
    if f.date_to:
        events = events.filter(at__lt=_day_start(f.date_to + dt.timedelta(days=1)))
    return events


# --------------------------------------------------------------------------- in words


@dataclass
class AuditLine:
    """One event as the auditor reads it."""

    event: AuditEvent
    action: str  # 操作, in words
    record: str  # whose record: "户 A001 王**", "王庄村", "问题 #12"
    fields: str  # which fields: "身份证号", "地址、电话"

    @property
    def summary(self) -> str:
        return f"{self.record}：{self.fields}" if self.record and self.fields else self.record


_FIELD_MODELS = {
    "households.household": "Household",
    "households.resident": "Resident",
    "households.villagearchive": "VillageArchive",
    "contacts.liaison": "Liaison",
}
_REPR = re.compile(r"^(?P<name>.*) \((?P<number>[^()]*)\)$")  # str(Household)


def _field_label(object_type: str, name: str) -> str:
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    model_name = _FIELD_MODELS.get(object_type)
    if model_name:
        try:
            model = apps.get_model(object_type.split(".")[0], model_name)
            return str(model._meta.get_field(name).verbose_name)
        except (LookupError, FieldDoesNotExist):
            pass  # a field since renamed: its stored name
    return name


def _fields(event: AuditEvent) -> str:
    detail = event.detail if isinstance(event.detail, dict) else {}
    names: list[str] = []
    if isinstance(detail.get("field"), str):
        names = [detail["field"]]
    elif isinstance(detail.get("fields"), list):
        names = [str(n) for n in detail["fields"]]
    return "、".join(_field_label(event.object_type, n) for n in names)


def _ids(events: Iterable[AuditEvent], object_type: str) -> set[int]:
    return {
        int(e.object_id) for e in events if e.object_type == object_type and e.object_id.isdigit()
    }


def _household_words(number: str, head_name: str) -> str:
    return _("Household %(number)s %(name)s") % {"number": number, "name": mask_name(head_name)}


def describe(events: list[AuditEvent]) -> list[AuditLine]:
    """The events in words, reading each kind of record they name once."""
    from minqing.contacts.models import Liaison
    from minqing.households.models import Household, Resident

    households = {
        pk: _household_words(number, head)
        for pk, number, head in Household.objects.filter(
            pk__in=_ids(events, "households.household")
        ).values_list("pk", "number", "head_name")
    }
    residents = {
        pk: _("%(household)s, member %(name)s")
        % {"household": _household_words(number, head), "name": mask_name(name)}
        for pk, name, number, head in Resident.objects.filter(
            pk__in=_ids(events, "households.resident")
        ).values_list("pk", "name", "household__number", "household__head_name")
    }
    liaisons = {
        pk: _("Liaison %(name)s") % {"name": mask_name(name)}
        for pk, name in Liaison.objects.filter(pk__in=_ids(events, "contacts.liaison")).values_list(
            "pk", "name"
        )
    }
    return [
        AuditLine(
            event=e,
            action=action_label(e.action),
            record=_record(e, households, residents, liaisons),
            fields=_fields(e),
        )
        for e in events
    ]


def _record(
    e: AuditEvent, households: dict[int, str], residents: dict[int, str], liaisons: dict[int, str]
) -> str:
    pk = int(e.object_id) if e.object_id.isdigit() else -1  # -1: names no row
    kind = e.object_type
    if kind == "households.household":
        if pk in households:
            return households[pk]
        match = _REPR.match(e.object_repr)  # since deleted: what the row kept
        if match:
            return _household_words(match["number"], match["name"])
        return _household_words(e.object_id, "")
    if kind == "households.resident":
        return residents.get(pk) or _("Member %(name)s") % {"name": mask_name(e.object_repr)}
    if kind == "contacts.liaison":
        return liaisons.get(pk) or _("Liaison %(name)s") % {"name": mask_name(e.object_repr)}
    if kind == "issues.issue":
        return _("Issue #%(id)s") % {"id": e.object_id}
    if kind in ("org.node", "households.villagearchive"):
        return e.object_repr or e.object_id
    if kind == "accounts.user":
        return _("Account %(name)s") % {"name": e.object_repr or e.object_id}
    if kind:
        return e.object_repr or f"{kind} {e.object_id}"
    return ""


def lines(events: Iterable[AuditEvent], chunk: int = 1000) -> Iterator[AuditLine]:
    """``describe`` over a long iterable, one chunk at a time (for the export)."""
    batch: list[AuditEvent] = []
    for event in events:
        batch.append(event)
        if len(batch) >= chunk:
            yield from describe(batch)
            batch = []
    if batch:
        yield from describe(batch)


def detail_words(event: AuditEvent) -> str:
    """The rest of the detail, compact (what the words above do not say)."""
    detail: dict[str, Any] = event.detail if isinstance(event.detail, dict) else {}
    rest = {k: v for k, v in detail.items() if k not in ("field", "fields")}
    return "; ".join(f"{k}={v}" for k, v in rest.items())
