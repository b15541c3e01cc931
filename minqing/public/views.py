"""居民点单 pages: no login, reached from the QR code on a household's contact card.

They show nothing personal about the household beyond its village and the masked name of its
head (``王*``); a forged or damaged token answers 404 like an unknown page.
"""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from minqing.contacts.selectors import household_for_token
from minqing.households.models import Household
from minqing.lib.access import public
from minqing.lib.context import AuditContext
from minqing.lib.masking import mask_name
from minqing.public.services import SubmissionRefused, check_rate, resident_submit

THANKS_SALT = "public.thanks"
FIELDS = ("description", "name", "phone")


def _household(token: str) -> Household:
    household = household_for_token(token)
    if household is None:
        raise Http404
    return household


def _context(household: Household) -> dict:
    return {"village": household.village.name, "head": mask_name(household.head_name)}


@public
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest, token: str) -> HttpResponse:
    """The phone-first form: what the problem is, a name (optional) and a phone for the reply."""
    household = _household(token)
    values = {f: request.POST.get(f, "") for f in FIELDS} if request.method == "POST" else {}
    errors: dict[str, str] = {}
    refusal = ""
    status = 200
    if request.method == "POST":
        context = AuditContext.of(request)
        try:
            check_rate(context, household)
            issue = resident_submit(
                household=household,
                description=values["description"],
                name=values["name"],
                phone=values["phone"],
                context=context,
            )
        except ValidationError as exc:
            errors = {k: v[0] for k, v in exc.message_dict.items()}
            status = 400
        except SubmissionRefused as exc:
            refusal, status = exc.message, exc.status
        else:
            number = signing.dumps(issue.pk, salt=THANKS_SALT)
            return redirect(reverse("public:thanks", kwargs={"token": token}) + f"?n={number}")
    return render(
        request,
        "public/submit.html",
        {**_context(household), "values": values, "errors": errors, "refusal": refusal},
        status=status,
    )


@public
@require_GET
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    """The issue number, and the promise of a call back."""
    household = _household(token)
    try:
        number = signing.loads(request.GET.get("n", ""), salt=THANKS_SALT, max_age=24 * 3600)
    except signing.BadSignature:
        raise Http404 from None
    return render(request, "public/thanks.html", {**_context(household), "number": number})
