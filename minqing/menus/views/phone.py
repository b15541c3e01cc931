"""Quarterly-menu pages: phone — the visitor's tasks (走访任务) and a household's form, which
also work offline: a service worker under /menus/ keeps them (``menus/sw.js``), and
``static/menus/phone.js`` keeps unsent records on the phone, sealed, until the server has them
(the design of the visit diary's outbox: minqing/visits/static/visits/outbox.js)."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minqing.accounts.middleware import AuthedRequest
from minqing.lib.access import public
from minqing.menus.models import CallResult, NotReachedReason, Outcome, Task
from minqing.menus.permissions import MenuAction, allowed
from minqing.menus.selectors.phone import by_campaign, open_tasks, version_json
from minqing.menus.services.answers import MAX_BATCH
from minqing.menus.spec import MAX_TEXT_ANSWER

#: What the service worker keeps besides the pages (the pages' styles and scripts).
SW_ASSETS = (
    "minqing/app.css",
    "visits/visits.css",
    "menus/phone.css",
    "menus/logic.js",
    "menus/phone.js",
    "visits/phone.js",
    "django_htmx/htmx-2.min.js",
)
#: The header that lets the service worker keep a page (as the visit pages do): only the
#: visitor's own tasks, with masked values only.
OFFLINE_HEADER = "X-Minqing-Offline"


def _keep(response: HttpResponse) -> HttpResponse:
    response[OFFLINE_HEADER] = "keep"
    return response


def phone_texts() -> dict[str, str]:
    """What ``phone.js`` says, in the page's language (a JSON block: no inline script)."""
    return {
        # the outbox list
        "unsent_one": _("%(count)d record not sent yet"),
        "unsent": _("%(count)d records not sent yet"),
        "waiting": _("Waiting for a connection"),
        "sending": _("Sending…"),
        "refused": _("Not accepted by the server: %(reason)s"),
        "login": _("Log in again to send them."),
        "other": _("Recorded by another account: log in as that person to send it."),
        "offline": _("No connection: they will be sent when there is one."),
        "server": _("The server could not take it just now; it will be tried again."),
        "conflict": _(
            "The server already has a different record for this (perhaps sent before it was "
            "changed). Discard this one if it is the same, or open it and save it again."
        ),
        "not_found": _("This household is not one of yours in this campaign."),
        "unreadable": _("The server could not read this record: open it, check it, save again."),
        "unreadable_here": _(
            "This phone can no longer read this record (its key is gone): it can only be discarded."
        ),
        "open": _("Open and correct"),
        "send_again": _("Send again"),
        "discard": _("Discard"),
        "confirm_discard": _("Discard this record? It cannot be brought back."),
        "discard_yes": _("Yes, discard it"),
        "cancel": _("Cancel"),
        "discarded": _("The record was discarded."),
        "call": _("Phone try: %(result)s"),
        "answers": _("Answers"),
        "on_phone": _("Saved on this phone"),
        "sent_row": _("Sent"),
        # the form
        "saved": _("Saved on this phone; it will be sent when there is a connection."),
        "sent": _("Sent."),
        "wait": _("Saving…"),
        "not_accepted": _(
            "The server did not accept these answers. Correct what is marked and save again, "
            "or discard them in the list above."
        ),
        "fix_first": _("Nothing was saved yet: correct what is marked."),
        "required": _("This question must be answered."),
        "invalid": _("This answer is not valid."),
        "integer": _("This must be a whole number."),
        "number": _("This must be a number."),
        "too_long": _("At most %(n)d characters, please (%(count)d now)."),
        "outcome": _("Choose: at home, by phone, or not reached."),
        "reason": _("Say why nobody was reached: moved away, empty house, refused."),
        "tries": _("Phone tries: %(n)d of %(limit)d"),
        "tries_full": _(
            "%(n)d tries already: record the household as not reached, with the reason."
        ),
        "try_saved": _("Phone try recorded: %(result)s."),
        "kept_here": _(
            "These answers are saved on this phone and not sent yet: you may still correct them."
        ),
    }


def _outbox_context() -> dict:
    return {
        "phone_texts": phone_texts(),
        "max_batch": MAX_BATCH,
        "call_results": dict(CallResult.choices),
    }


@require_GET
def tasks(request: AuthedRequest) -> HttpResponse:
    """走访任务 — the households of the open campaigns in my care, not done first."""
    rows = open_tasks(request.user)
    precache = [reverse("menus:tasks")] + [
        reverse("menus:task", args=[r.id]) for r in rows if not r.done
    ]
    response = render(
        request,
        "menus/phone/tasks.html",
        {
            "campaigns": by_campaign(rows),
            "precache": json.dumps(precache),
            **_outbox_context(),
        },
    )
    return _keep(response) if not request.GET else response


@require_GET
def task(request: AuthedRequest, pk: int) -> HttpResponse:
    """A household's menu form: the greeting, the questions of its version by theme (drawn by
    the script from the version's JSON), the outcome, phone tries and the reason."""
    found = get_object_or_404(
        Task.objects.select_related("campaign", "campaign__version", "household__node"), pk=pk
    )
    if not allowed(request.user, MenuAction.ANSWER, found):
        raise Http404
    campaign = found.campaign
    form = version_json(campaign.version, found.place_kind)
    response = render(
        request,
        "menus/phone/task.html",
        {
            "task": found,
            "campaign": campaign,
            "household": found.household,
            "head_name": str(found.household.head_name),
            "greeting": campaign.version.greeting,
            "form": form,
            "outcomes": Outcome.choices,
            "reasons": NotReachedReason.choices,
            "results": CallResult.choices,
            "text_limit": MAX_TEXT_ANSWER,
            "task_data": {
                "task": found.pk,
                "version": campaign.version_id,
                "outcome": found.outcome,
                "call_attempts": found.call_attempts,
                "call_limit": campaign.call_limit,
                "label": f"{found.household.number} · {found.household.head_name}",
            },
            **_outbox_context(),
        },
    )
    if found.assignee_id == request.user.pk and not request.GET:
        _keep(response)  # only my own tasks' forms are kept on the phone
    return response


@public
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The menus' service worker, served under /menus/ so it may look after the task pages."""
    assets = json.dumps([static(a) for a in SW_ASSETS])
    script = render_to_string(
        "menus/phone/sw.js",
        {
            "assets": assets,
            "tasks_url": reverse("menus:tasks"),
            "LANGUAGE_CODE": translation.get_language(),
        },
    )
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


urlpatterns: list[URLPattern] = [
    path("tasks/", tasks, name="tasks"),
    path("tasks/<int:pk>/", task, name="task"),
    path("sw.js", service_worker, name="service_worker"),
]
