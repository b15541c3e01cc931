"""By hand: liaisons join and retire, and a household is put in someone's care ("1+1")."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.audit.services import audit_record
from minqing.contacts.models import ContactLink, Liaison, LiaisonCategory, LiaisonKind
from minqing.contacts.services.common import require_manage, village_of
from minqing.households.models import Household
from minqing.org.models import Level, Node

MAX_CAPACITY = 1000
ADULT = 18


def _clean_person(
    *, kind: str, category: str, capacity: int | None, node: Node | None = None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if kind not in LiaisonKind.values:
        errors["kind"] = _("Choose what the person does.")
    if category not in LiaisonCategory.values:
        errors["category"] = _("Unknown category.")
    if node is not None and node.level not in (Level.VILLAGE, Level.AREA, Level.GRID):
        errors["node"] = _("Choose the village, area or grid the person belongs to.")
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = _("Between 1 and %(n)d households.") % {"n": MAX_CAPACITY}
    return errors


def liaison_add(
    *,
    by: Any,
    node: Node,
    kind: str,
    name: str = "",
    phone: str = "",
    user: Any = None,
    resident: Any = None,
    category: str = "",
    capacity: int | None = None,
    request: Any = None,
) -> Liaison:
    """A person who takes households: a resident (party member, representative), an account
    holder (group leader, cadre) or both. Name, phone and place come from them when not given.

    A person who retired as this kind and comes back is the same liaison again (their history of
    links stays theirs), with the new place, category and capacity.
    """
    from minqing.issues.services.common import clean_phone, clean_text
    from minqing.lib.fields import plain

    require_manage(by, node)
    errors = _clean_person(kind=kind, category=category, capacity=capacity, node=node)
    name = name or (resident.name if resident else "") or (str(user) if user else "")
    phone = (
        phone or (plain(resident.phone) if resident else "") or (plain(user.phone) if user else "")
    )
    try:
        name = clean_text(name, "name", required=True, max_length=50)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    try:
        phone = clean_phone(phone, "phone")
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    village = village_of(node)
    household = resident.household if resident else None
    if household is not None and household.village_id != village.pk:
        raise ValidationError({"resident": _("The resident lives in another village.")})
    if resident is not None and resident.age is not None and resident.age < ADULT:
        raise ValidationError({"resident": _("A liaison must be an adult.")})
    fields = {
        "node": node,
        "village": village,
        "category": category,
        "name": name,
        "phone": phone or None,
        "capacity": capacity,
        "latitude": household.latitude if household else None,
        "longitude": household.longitude if household else None,
    }
    try:
        return _liaison_save(by, kind, fields, user=user, resident=resident, request=request)
    except IntegrityError:  # the account or resident is such a liaison under another record
        raise ValidationError(
            {"user" if user else "resident": _("This person is already such a liaison.")}
        ) from None


def _liaison_save(
    by: Any, kind: str, fields: dict[str, Any], *, user: Any, resident: Any, request: Any
) -> Liaison:
    with transaction.atomic():
        same = Liaison.objects.select_for_update().filter(kind=kind)
        earlier = (same.filter(user=user).first() if user else None) or (
            same.filter(resident=resident).first() if resident else None
        )
        if earlier is not None and earlier.active:
            field = "user" if user and earlier.user_id == user.pk else "resident"
            raise ValidationError(
                {field: _("%(name)s is already such a liaison.") % {"name": earlier.name}}
            )
        if earlier is not None:
            for key, value in fields.items():
                setattr(earlier, key, value)
            earlier.user = earlier.user or user
            earlier.resident = earlier.resident or resident
            earlier.active = True
            earlier.save()
            liaison = earlier
        else:
            liaison = Liaison.objects.create(kind=kind, user=user, resident=resident, **fields)
        audit_record(
            action="contacts.liaison_add",
            user=by,
            request=request,
            obj=liaison,
            detail={
                "kind": kind,
                "node": fields["node"].pk,
                "category": fields["category"],
                "capacity": fields["capacity"],
                "resident": getattr(resident, "pk", None),
                "user": getattr(user, "pk", None),
                "returned": earlier is not None,
            },
        )
    return liaison


def liaison_update(
    *,
    by: Any,
    liaison: Liaison,
    category: str,
    capacity: int | None,
    node: Node | None = None,
    request: Any = None,
) -> Liaison:
    """Change a liaison's category, capacity or group within the village; the next run uses
    them (links already made stay until then)."""
    require_manage(by, liaison.node)
    errors = _clean_person(kind=liaison.kind, category=category, capacity=capacity, node=node)
    if node is not None and not errors and village_of(node).pk != liaison.village_id:
        errors["node"] = _("Choose a place within the liaison's own village.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Liaison.objects.select_for_update().get(pk=liaison.pk)
        before = {"category": locked.category, "capacity": locked.capacity, "node": locked.node_id}
        locked.category, locked.capacity = category, capacity
        if node is not None:
            locked.node = node
        after = {"category": locked.category, "capacity": locked.capacity, "node": locked.node_id}
        if after == before:
            return locked
        locked.save(update_fields=["category", "capacity", "node"])
        audit_record(
            action="contacts.liaison_update",
            user=by,
            request=request,
            obj=locked,
            detail={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        )
    return locked


def liaison_retire(*, by: Any, liaison: Liaison, request: Any = None) -> int:
    """The person stops taking households (moved away, stepped down). Their households go to
    others at the next run; their hand-set links end now. Returns how many links ended."""
    require_manage(by, liaison.node)
    now = timezone.now()
    with transaction.atomic():
        if not Liaison.objects.filter(pk=liaison.pk, active=True).update(active=False):
            raise ValidationError(_("%(name)s has retired already.") % {"name": liaison.name})
        ended = (
            ContactLink.objects.current().filter(liaison=liaison, manual=True).update(ended_at=now)
        )
        audit_record(
            action="contacts.liaison_retire",
            user=by,
            request=request,
            obj=liaison,
            detail={"manual_links_ended": ended},
        )
    liaison.active = False
    return ended


def link_set(
    *, by: Any, household: Household, liaison: Liaison, request: Any = None
) -> ContactLink:
    """Put a household in a liaison's care by hand ("1+1" pairing, or overriding the engine).

    The link is manual: later runs of the engine leave it alone.
    """
    require_manage(by, household.node)
    if not liaison.active:
        raise ValidationError({"liaison": _("This person no longer takes households.")})
    if liaison.village_id != household.village_id and liaison.kind != LiaisonKind.CADRE:
        raise ValidationError({"liaison": _("Choose someone of the household's own village.")})
    now = timezone.now()
    with transaction.atomic():
        current = (
            ContactLink.objects.current()
            .select_for_update()
            .filter(household=household, kind=liaison.kind)
            .first()
        )
        if current and current.liaison_id == liaison.pk and current.manual:
            return current
        if current:
            current.ended_at = now
            current.save(update_fields=["ended_at"])
        link = ContactLink.objects.create(
            household=household,
            liaison=liaison,
            kind=liaison.kind,
            manual=True,
            started_at=now,
            created_by=by,
        )
        audit_record(
            action="contacts.link",
            user=by,
            request=request,
            obj=household,
            detail={
                "liaison": liaison.pk,
                "kind": liaison.kind,
                "replaced": current.liaison_id if current else None,
            },
        )
    return link


def link_release(*, by: Any, link: ContactLink, request: Any = None) -> None:
    """Hand a manual link back to the engine (it stays until the next run moves it)."""
    require_manage(by, link.household.node)
    with transaction.atomic():
        if not ContactLink.objects.filter(pk=link.pk, manual=True, ended_at=None).update(
            manual=False
        ):
            raise ValidationError(_("This link is no longer set by hand."))
        audit_record(
            action="contacts.release",
            user=by,
            request=request,
            obj=link.household,
            detail={"liaison": link.liaison_id, "kind": link.kind},
        )
    link.manual = False
