"""Visit pages: "my households" and the phone-first visit form (which also works offline: the
service worker keeps the pages, ``static/visits/outbox.js`` keeps unsent visits on the phone)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.middleware import AuthedRequest
from minqing.households.models import Household
from minqing.issues.models import Category, Colour
from minqing.lib.access import public
from minqing.lib.context import AuditContext
from minqing.visits import selectors, services
from minqing.visits.models import Mode

PROBLEM_SLOTS = 3
#: What the service worker keeps for offline use besides the visit pages.
SW_ASSETS = (
    "minqing/app.css",
    "visits/visits.css",
    "visits/outbox.js",
    "django_htmx/htmx-2.min.js",
)


def outbox_texts() -> dict[str, str]:
    """What ``outbox.js`` says, in the page's language (read from a JSON block: the pages'
    policy allows no inline script). Placeholders: %(n)d, %(days)d, %(date)s, %(count)d."""
    return {
        # the outbox list
        "unsent": _("visits not sent yet"),
        "waiting": _("Waiting for a connection"),
        "sending": _("Sending…"),
        "refused": _("Not accepted by the server: %(reason)s"),
        "login": _("Log in again to send them."),
        "other": _("Recorded by another account: log in as that person to send it."),
        "offline": _("No connection: they will be sent when there is one."),
        "server": _("The server could not take it just now; it will be tried again."),
        "conflict": _(
            "The server already has a different record under this id (perhaps sent before it "
            "was changed). Discard this one if it is the same visit, or open it and save it to "
            "send it as a new record."
        ),
        "not_found": _("This household is not among those you look after, or no longer exists."),
        "unreadable": _("The server could not read this record: open it, check it, save again."),
        "unreadable_here": _(
            "This phone can no longer read this record (its key is gone): it can only be discarded."
        ),
        "open": _("Open and correct"),
        "send_again": _("Send again"),
        "discard": _("Discard"),
        "confirm_discard": _("Discard this visit record? It cannot be brought back."),
        "discard_yes": _("Yes, discard it"),
        "cancel": _("Cancel"),
        "discarded": _("The visit record was discarded."),
        "editing": _("Open in the form below"),
        # the form
        "saved": _("Saved on this phone; it will be sent when there is a connection."),
        "sent": _("Visit sent."),
        "wait": _("Saving…"),
        "not_accepted": _(
            "The server did not accept this visit. Correct what is marked and save again, or "
            "discard it in the list above."
        ),
        "fix_first": _("Nothing was saved yet: correct what is marked."),
        "replace_draft": _(
            "The form holds a visit you have not saved. Put it aside and open this one?"
        ),
        "household": _("Choose the household you visited."),
        "time_missing": _("Give the date and time of the visit."),
        "future": _("The visit time is later than now: check the time and the phone's clock."),
        "too_old": _(
            "This visit is dated before %(date)s: the county accepts visits up to %(days)d days "
            "back."
        ),
        "too_long": _("At most %(n)d characters, please (%(count)d now)."),
        "colour": _("Problem %(n)d: choose a colour."),
        "describe": _("Problem %(n)d: say what the problem is."),
        "resolution": _("Problem %(n)d: say what was done on the spot."),
    }


def _precache_urls() -> list[str]:
    """The pages the service worker keeps for offline use when "my households" loads online:
    the list and the visit form of each of my households (one kept copy of the form lists them
    all; the script picks the household from the address, ``?household=``)."""
    return [reverse("visits:mine"), reverse("visits:new")]


#: The header that lets the service worker keep a page for offline use. Only pages that list
#: the visitor's own households with masked values only (no revealed value, no ID number or
#: phone at all) carry it; a page without it is never kept (what the phone keeps is bounded).
OFFLINE_HEADER = "X-Minqing-Offline"


def offline_copy(response: HttpResponse) -> HttpResponse:
    response[OFFLINE_HEADER] = "keep"
    return response


@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """我的联户 — the households in my care, the most overdue first."""
    rows = selectors.my_households(request.user)
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("overdue", "due", "fine")}
    response = render(
        request,
        "visits/mine.html",
        {
            "rows": rows,
            "counts": counts,
            "outbox_texts": outbox_texts(),
            "precache": json.dumps(_precache_urls()),
        },
    )
    return offline_copy(response) if not request.GET else response


def _form_context(request: HttpRequest, values: dict[str, Any], errors: dict[str, Any]) -> dict:
    households = selectors.my_households(request.user)
    wanted = str(values.get("household") or "")
    if wanted.isdigit() and all(str(h.id) != wanted for h in households):
        # A household named by a link (a night-visit stop) that is not in my care.
        households = [*selectors.visible_household(request.user, int(wanted)), *households]
    return {
        "households": households,
        "colleagues": selectors.colleagues(request.user, households),
        "values": values,
        "errors": errors,
        "modes": Mode.choices,
        "colours": Colour.choices,
        "categories": Category.objects.filter(active=True),
        "slots": range(1, PROBLEM_SLOTS + 1),
        "problems": values.get("problems") or [{} for _ in range(PROBLEM_SLOTS)],
        "outbox_texts": outbox_texts(),
        "precache": json.dumps(_precache_urls()),
        "lookback_days": _lookback_days(request.user),
        "limits": LIMITS,
    }


#: Length limits the form shows with a counter (the service checks the same).
LIMITS = {"notes": 2000, "materials": 200, "situation": 2000, "problem": 2000}


def _lookback_days(user: Any) -> int:
    """The look-back of the visitor's county, for the form's own check before queuing."""
    from minqing.accounts.scope import scope_for
    from minqing.org.models import Node
    from minqing.visits.models import DEFAULT_LOOKBACK_DAYS
    from minqing.visits.services.cadence import settings_for

    paths = scope_for(user).node_paths
    county = Node.objects.county_on_path(paths[0]) if paths else None
    return settings_for(county).lookback_days if county else DEFAULT_LOOKBACK_DAYS


@require_http_methods(["GET", "POST"])
def visit_new(request: AuthedRequest) -> HttpResponse:
    """民情日记 — record a visit. Without script the form posts here; with script (and offline)
    the outbox posts the same record to the API. The client id is made when the form is shown,
    so sending the same form twice saves one visit."""
    if request.method == "POST":
        values = _values(request.POST)
        try:
            data = _input(values)
            recorded = services.visit_record(
                by=request.user, data=data, context=AuditContext.of(request)
            )
        except Household.DoesNotExist:
            raise Http404 from None
        except services.DuplicateVisit as exc:
            messages.error(request, str(exc))
            values["client_uuid"] = str(uuid.uuid4())
            return render(
                request, "visits/form.html", _form_context(request, values, {}), status=409
            )
        except ValidationError as exc:
            errors = exc.message_dict
            return render(
                request, "visits/form.html", _form_context(request, values, errors), status=400
            )
        if recorded.created:
            messages.success(
                request,
                _("Visit to %(name)s saved.") % {"name": recorded.visit.household.head_name}
                + (
                    " "
                    + _("Issues raised: %(ids)s.")
                    % {"ids": ", ".join(f"#{i.pk}" for i in recorded.visit.issues.all())}
                    if recorded.visit.issues.exists()
                    else ""
                ),
            )
        return redirect("visits:mine")
    household = request.GET.get("household", "")
    night = request.GET.get("night", "")
    night = night if night.isdigit() else ""
    values = {
        "client_uuid": str(uuid.uuid4()),
        "household": household,
        "night": night,
        "mode": Mode.NIGHT if night else Mode.HOME,
        "visited_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    response = render(request, "visits/form.html", _form_context(request, values, {}))
    if not request.GET:
        offline_copy(response)  # the one copy of the form the phone keeps: only my households
    return response


def _values(post: Any) -> dict[str, Any]:
    """What the user typed, kept as typed so an error never loses it."""
    values = {
        k: post.get(k, "").strip()
        for k in ("client_uuid", "household", "mode", "visited_at", "notes", "materials", "night")
    }
    values["situation"] = post.get("situation")
    values["companions"] = [c for c in post.getlist("companions") if c.isdigit()]
    values["household_version"] = post.get("household_version", "")
    values["problems"] = [
        {
            "colour": post.get(f"p{i}_colour", ""),
            "category": post.get(f"p{i}_category", ""),
            "description": post.get(f"p{i}_description", "").strip(),
            "resolution": post.get(f"p{i}_resolution", "").strip(),
        }
        for i in range(1, PROBLEM_SLOTS + 1)
    ]
    return values


def _input(values: dict[str, Any]) -> services.VisitInput:
    errors: dict[str, str] = {}
    try:
        client_uuid = uuid.UUID(values["client_uuid"])
    except ValueError:
        client_uuid = uuid.uuid4()
    try:
        household_id = int(values["household"])
    except ValueError:
        errors["household"] = _("Choose the household you visited.")
        household_id = 0
    try:
        naive = dt.datetime.fromisoformat(values["visited_at"])
        visited_at = timezone.make_aware(naive) if timezone.is_naive(naive) else naive
    except ValueError:
        errors["visited_at"] = _("Give the date and time of the visit.")
        visited_at = timezone.now()
    problems = [
        services.Problem(
            colour=p["colour"],
            description=p["description"],
            category=p["category"],
            resolution=p["resolution"],
        )
        for p in values["problems"]
        if p["colour"] or p["description"] or p["resolution"]  # anything typed is checked
    ]
    if errors:
        raise ValidationError(errors)
    version = values.get("household_version") or ""
    return services.VisitInput(
        client_uuid=client_uuid,
        household_id=household_id,
        mode=values["mode"] or Mode.HOME,
        visited_at=visited_at,
        notes=values["notes"],
        materials=values["materials"],
        problems=problems,
        situation=values.get("situation"),
        household_version=int(version) if version.isdigit() else None,
        companion_ids=[int(c) for c in values.get("companions", [])],
        night_plan_id=int(values["night"]) if values.get("night", "").isdigit() else None,
    )


@never_cache
@require_GET
def sync_token(request: HttpRequest) -> JsonResponse:
    """A fresh CSRF token for the outbox, and proof the session is still alive."""
    return JsonResponse({"csrf": get_token(request), "user": request.user.pk})


@public
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served under /visits/ so it may look after the visit pages."""
    assets = json.dumps([static(a) for a in SW_ASSETS])
    script = render_to_string(
        "visits/sw.js", {"assets": assets, "LANGUAGE_CODE": translation.get_language()}
    )
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
