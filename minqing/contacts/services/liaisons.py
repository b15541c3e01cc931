"""By hand: liaisons join and retire, and a household is put in someone's care ("1+1")."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.defaults import ADULT
from minqing.contacts.errors import ContactErrorCode
from minqing.contacts.models import ContactLink, Liaison, LiaisonCategory, LiaisonKind
from minqing.contacts.permissions import require_manage
from minqing.contacts.selectors.network import village_of
from minqing.households.models import Household, Resident
from minqing.lib.context import AuditContext
from minqing.lib.errors import ErrorCode
from minqing.lib.fields import plain
from minqing.lib.text import clean_phone, clean_text
from minqing.org.models import Level, Node

MAX_CAPACITY = 1000


def _clean_person(
    *, kind: str, category: str, capacity: int | None, node: Node | None = None
) -> dict[str, ValidationError]:
    errors: dict[str, ValidationError] = {}
    if kind not in LiaisonKind.values:
        errors["kind"] = ValidationError(
            _("Choose what the person does."), code=ContactErrorCode.KIND_UNKNOWN
        )
    if category not in LiaisonCategory.values:
        errors["category"] = ValidationError(
            _("Unknown category."), code=ContactErrorCode.CATEGORY_UNKNOWN
        )
    if node is not None and node.level not in (Level.VILLAGE, Level.AREA, Level.GRID):
        errors["node"] = ValidationError(
            _("Choose the village, area or grid the person belongs to."),
            code=ContactErrorCode.PLACE_LEVEL,
        )
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = ValidationError(
            _("Between 1 and %(n)d households.") % {"n": MAX_CAPACITY},
            code=ContactErrorCode.CAPACITY_RANGE,
        )
    return errors


def _first_errors(exc: ValidationError) -> dict[str, ValidationError]:
    """The first error of each field of ``exc``, with a code (``invalid`` when it has none)."""
    return {
        field: ValidationError(
            errors[0].message, code=errors[0].code or ErrorCode.INVALID, params=errors[0].params
        )
        for field, errors in exc.error_dict.items()
    }


def liaison_add(
    *,
    by: User,
    node: Node,
    kind: str,
    name: str = "",
    phone: str = "",
    user: User | None = None,
    resident: Resident | None = None,
    category: str = "",
    capacity: int | None = None,
    context: AuditContext | None = None,
) -> Liaison:
    """A person who takes households: a resident (party member, representative), an account
    holder (group leader, cadre) or both. Name, phone and place come from them when not given.

    A person who retired as this kind and comes back is the same liaison again (their history of
    links stays theirs), with the new place, category and capacity.
    """
    require_manage(by, node)
    errors = _clean_person(kind=kind, category=category, capacity=capacity, node=node)
    name = name or (resident.name if resident else "") or (str(user) if user else "")
    phone = (
        phone or (plain(resident.phone) if resident else "") or (plain(user.phone) if user else "")
    )
    try:
        name = clean_text(name, "name", required=True, max_length=50)
    except ValidationError as exc:
        errors.update(_first_errors(exc))
    try:
        phone = clean_phone(phone, "phone")
    except ValidationError as exc:
        errors.update(_first_errors(exc))
    if errors:
        raise ValidationError(errors)
    village = village_of(node)
    household = resident.household if resident else None
    if household is not None and household.village_id != village.pk:
        raise ValidationError(
            {
                "resident": ValidationError(
                    _("The resident lives in another village."),
                    code=ContactErrorCode.RESIDENT_ELSEWHERE,
                )
            }
        )
    if resident is not None and resident.age is not None and resident.age < ADULT:
        raise ValidationError(
            {
                "resident": ValidationError(
                    _("A liaison must be an adult."), code=ContactErrorCode.NOT_ADULT
                )
            }
        )
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
        return _liaison_save(by, kind, fields, user=user, resident=resident, context=context)
    except IntegrityError:  # the account or resident is such a liaison under another record
        raise ValidationError(
            {
                "user" if user else "resident": ValidationError(
                    _("This person is already such a liaison."),
                    code=ContactErrorCode.ALREADY_LIAISON,
                )
            }
        ) from None


def _liaison_save(
    by: User,
    kind: str,
    fields: dict[str, Any],
    *,
    user: User | None,
    resident: Resident | None,
    context: AuditContext | None,
) -> Liaison:
    with transaction.atomic():
        same = Liaison.objects.select_for_update().filter(kind=kind)
        earlier = (same.filter(user=user).first() if user else None) or (
            same.filter(resident=resident).first() if resident else None
        )
        if earlier is not None and earlier.active:
            field = "user" if user and earlier.user_id == user.pk else "resident"
            raise ValidationError(
                {
                    field: ValidationError(
                        _("%(name)s is already such a liaison.") % {"name": earlier.name},
                        code=ContactErrorCode.ALREADY_LIAISON,
                    )
                }
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
            action=AuditAction.CONTACTS_LIAISON_ADD,
            user=by,
            context=context,
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
    by: User,
    liaison: Liaison,
    category: str,
    capacity: int | None,
    node: Node | None = None,
    context: AuditContext | None = None,
) -> Liaison:
    """Change a liaison's category, capacity or group within the village; the next run uses
    them (links already made stay until then)."""
    require_manage(by, liaison.node)
    errors = _clean_person(kind=liaison.kind, category=category, capacity=capacity, node=node)
    if node is not None and not errors and village_of(node).pk != liaison.village_id:
        errors["node"] = ValidationError(
            _("Choose a place within the liaison's own village."),
            code=ContactErrorCode.PLACE_OTHER_VILLAGE,
        )
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
            action=AuditAction.CONTACTS_LIAISON_UPDATE,
            user=by,
            context=context,
            obj=locked,
            detail={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        )
    return locked


def liaison_retire(*, by: User, liaison: Liaison, context: AuditContext | None = None) -> int:
    """The person stops taking households (moved away, stepped down). Their households go to
    others at the next run; their hand-set links end now. Returns how many links ended."""
    require_manage(by, liaison.node)
    now = timezone.now()
    with transaction.atomic():
        if not Liaison.objects.filter(pk=liaison.pk, active=True).update(active=False):
            raise ValidationError(
                _("%(name)s has retired already.") % {"name": liaison.name},
                code=ContactErrorCode.ALREADY_RETIRED,
            )
        ended = (
            ContactLink.objects.current().filter(liaison=liaison, manual=True).update(ended_at=now)
        )
        audit_record(
            action=AuditAction.CONTACTS_LIAISON_RETIRE,
            user=by,
            context=context,
            obj=liaison,
            detail={"manual_links_ended": ended},
        )
    liaison.active = False
    return ended


def link_set(
    *, by: User, household: Household, liaison: Liaison, context: AuditContext | None = None
) -> ContactLink:
    """Put a household in a liaison's care by hand ("1+1" pairing, or overriding the engine).

    The link is manual: later runs of the engine leave it alone.
    """
    require_manage(by, household.node)
    if not liaison.active:
        raise ValidationError(
            {
                "liaison": ValidationError(
                    _("This person no longer takes households."),
                    code=ContactErrorCode.LIAISON_RETIRED,
                )
            }
        )
    if liaison.village_id != household.village_id and liaison.kind != LiaisonKind.CADRE:
        raise ValidationError(
            {
                "liaison": ValidationError(
                    _("Choose someone of the household's own village."),
                    code=ContactErrorCode.LIAISON_OTHER_VILLAGE,
                )
            }
        )
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
            action=AuditAction.CONTACTS_LINK,
            user=by,
            context=context,
            obj=household,
            detail={
                "liaison": liaison.pk,
                "kind": liaison.kind,
                "replaced": current.liaison_id if current else None,
            },
        )
    return link


def link_release(*, by: User, link: ContactLink, context: AuditContext | None = None) -> None:
    """Hand a manual link back to the engine (it stays until the next run moves it)."""
    require_manage(by, link.household.node)
    with transaction.atomic():
        if not ContactLink.objects.filter(pk=link.pk, manual=True, ended_at=None).update(
            manual=False
        ):
            raise ValidationError(
                _("This link is no longer set by hand."), code=ContactErrorCode.LINK_NOT_MANUAL
            )
        audit_record(
            action=AuditAction.CONTACTS_RELEASE,
            user=by,
            context=context,
            obj=link.household,
            detail={"liaison": link.liaison_id, "kind": link.kind},
        )
    link.manual = False
