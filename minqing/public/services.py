"""居民点单 — a resident reports a problem from the QR code on the household's contact card.

Who registers it: every issue names the account that registered it, and the issue services
check that account's scope. A public submission has no person behind it, so each county gets
one *intake account* (``public-intake-<county id>``), made on first use: no usable password
(nobody can log in with it, and it is never given an API token), one role — villagers'
representative over the county, the role that speaks for residents and may register issues but
not reveal personal data, edit archives or act for a unit. Timelines show it as
"居民点单（<county>）". Disabling that account stops public submissions in the county.

Each client address may submit ``MINQING_PUBLIC_SUBMIT_LIMIT`` (default 5) problems per
``MINQING_PUBLIC_SUBMIT_WINDOW`` seconds (default 600), counted by ``minqing.lib.ratelimit``
(limit ``public.submit``) in Django's cache; the first refusal in a window writes one audit row.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.households.models import Household
from minqing.issues.models import Category, Colour, Issue, Source
from minqing.issues.services import issue_register
from minqing.lib import ratelimit
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.text import clean_phone, clean_text
from minqing.org.models import Node
from minqing.public.errors import PublicErrorCode

INTAKE_PREFIX = "public-intake-"
INTAKE_ROLE = Role.REPRESENTATIVE
#: The category residents' submissions start in; the village sorts them when dispatching.
INTAKE_CATEGORY = "other"


class SubmissionRefused(Exception):
    """Too many submissions from this address, or the county takes none: nothing was saved."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def intake_account(county: Node) -> User:
    """The county's account for public submissions, made (and audited) on first use."""
    username = f"{INTAKE_PREFIX}{county.pk}"
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            username=username, defaults={"full_name": f"居民点单（{county.name}）"[:50]}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password", "password_changed_at"])
            role_assign(user=user, role=INTAKE_ROLE, node=county)
    return user


def _limits() -> tuple[int, int]:
    lim = ratelimit.limit("public.submit")
    return lim.count, lim.seconds


def _address(context: AuditContext | None) -> str | None:
    """What the limits count: the client address (``None``: no address, no limit)."""
    if context is None:
        return None
    return "ip:" + (context.ip or "unknown")


def _refuse(context: AuditContext | None, household: Household) -> SubmissionRefused:
    _limit, window = _limits()
    if ratelimit.first_in("public.submit.refused", _address(context), window):
        audit_record(
            action=AuditAction.PUBLIC_SUBMIT,
            context=context,
            obj=household,
            success=False,
            detail={"reason": "rate_limited"},
        )
    return SubmissionRefused(
        _(
            "You have sent several problems in the last few minutes. Please wait a while "
            "and try again, or call your contact person."
        ),
        429,
    )


def check_rate(context: AuditContext | None, household: Household) -> None:
    """Refuse early when this address has used up its submissions (no reservation made)."""
    try:
        ratelimit.check("public.submit", _address(context))
    except ratelimit.RateLimited:
        raise _refuse(context, household) from None


def _reserve(context: AuditContext | None, household: Household) -> None:
    try:
        ratelimit.consume("public.submit", _address(context))
    except ratelimit.RateLimited:
        raise _refuse(context, household) from None


def _release(context: AuditContext | None) -> None:
    """Give back a reservation whose submission was not saved."""
    ratelimit.hit("public.submit", _address(context), -1)


def resident_submit(
    *,
    household: Household,
    description: str,
    phone: str,
    name: str = "",
    context: AuditContext | None = None,
) -> Issue:
    """Register what a resident reported through the card's QR code: a blue issue at the
    household's place, attached to the household, with the resident's name, phone and words.

    Raises ``ValidationError`` (field → message) for bad input and ``SubmissionRefused`` when
    the address is over its limit or the county takes no submissions; nothing is saved then.
    """
    errors: dict[str, ValidationError] = {}
    cleaned: dict[str, str] = {}
    checks = {
        "description": lambda: clean_text(description, "description", required=True),
        "name": lambda: clean_text(name, "name", required=False, max_length=50),
        "phone": lambda: clean_phone(phone, "phone"),
    }
    for field, clean in checks.items():
        try:
            cleaned[field] = clean()
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.error_dict.items()})
    if "phone" not in errors and not cleaned.get("phone"):
        errors["phone"] = ValidationError(
            _("Leave a phone number so that we can call you back."),
            code=PublicErrorCode.PHONE_REQUIRED,
        )
    if errors:
        raise ValidationError(errors)
    county = Node.objects.county_on_path(household.node.path)
    category = (
        Category.objects.filter(code=INTAKE_CATEGORY, active=True).first()
        or Category.objects.filter(active=True).order_by("sort_key", "code").first()
    )
    if county is None or category is None:
        raise SubmissionRefused(_("Submissions are not taken here at the moment."), 503)
    account = intake_account(county)
    if not account.is_active:
        raise SubmissionRefused(_("Submissions are not taken here at the moment."), 503)
    _reserve(context, household)
    try:
        with transaction.atomic():
            issue = issue_register(
                by=account,
                node=household.node,
                category=category,
                description=cleaned["description"],
                colour=Colour.BLUE,
                source=Source.RESIDENT,
                household=household,
                reporter_name=cleaned["name"],
                reporter_phone=cleaned["phone"],
                reporter_words=cleaned["description"],
                context=context,
            )
            audit_record(
                action=AuditAction.PUBLIC_SUBMIT,
                context=context,
                obj=issue,
                detail={"household": household.pk},
            )
    except PermissionDenied:
        _release(context)  # the intake account lost its role: the county took submissions off
        raise SubmissionRefused(_("Submissions are not taken here at the moment."), 503) from None
    except Exception:
        _release(context)
        raise
    return issue
