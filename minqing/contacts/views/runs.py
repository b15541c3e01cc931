"""Assignment runs (一次分配): start one, read the last ones. Out of scope answers 404; in scope
without the role, 403."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.contacts import selectors, services
from minqing.contacts.models import AssignmentRun, LiaisonKind, RunStatus
from minqing.contacts.permissions import can_edit_rules, can_manage
from minqing.contacts.views.common import not_manager, place_node
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Level, Node
from minqing.org.selectors import breadcrumbs, county_of

#: Places that have assignment runs: a village, a town inline, a county through the worker.
RUN_LEVELS = (Level.COUNTY, Level.TOWN, Level.VILLAGE)


def shortage_text(shortage: dict[str, Any]) -> str:
    """王庄村 lacks 2 group leaders for 150 households."""
    people = shortage["people"]
    kind = shortage["kind"]
    kinds = {
        LiaisonKind.GROUP_LEADER: ngettext("%(n)d group leader", "%(n)d group leaders", people),
        LiaisonKind.REPRESENTATIVE: ngettext(
            "%(n)d representative", "%(n)d representatives", people
        ),
        LiaisonKind.PARTY_MEMBER: ngettext("%(n)d party member", "%(n)d party members", people),
        LiaisonKind.CADRE: ngettext("%(n)d cadre", "%(n)d cadres", people),
    }
    who = kinds.get(kind, "%(n)d") % {"n": people}
    return ngettext(
        "%(place)s lacks %(who)s for %(n)d household",
        "%(place)s lacks %(who)s for %(n)d households",
        shortage["households"],
    ) % {"place": shortage["name"], "who": who, "n": shortage["households"]}


def run_outcome(run: AssignmentRun) -> tuple[str, str]:
    """A one-line verdict on a finished run and its tone ("success", "warning", "error")."""
    result = run.result or {}
    if run.status == RunStatus.FAILED:
        return "error", _("The run stopped with an error; villages done before it keep theirs.")
    if run.status != RunStatus.DONE:
        return "info", ""
    if "kinds" in result and not result["kinds"]:
        return "warning", _(
            "Nothing could be assigned: no kind of liaison is in use in the county's rules."
        )
    changed = result.get("assigned", 0)
    left = result.get("unassigned", 0)
    if not changed and left:
        return "warning", ngettext(
            "Nothing could be assigned: no liaison can take the %(n)d household without one. "
            "Add liaisons or raise their capacity, then run again.",
            "Nothing could be assigned: no liaison can take the %(n)d households without one. "
            "Add liaisons or raise their capacity, then run again.",
            left,
        ) % {"n": left}
    if not changed and not result.get("kept") and not result.get("manual"):
        return "warning", _("Nothing could be assigned: there are no households here.")
    if not changed:
        return "success", _("Nothing to change: every household has its people already.")
    done = ngettext("%(n)d household assigned.", "%(n)d households assigned.", changed) % {
        "n": changed
    }
    if not left:
        return "success", done
    return "warning", done + " " + _("Left without a liaison: %(n)d — see the shortages.") % {
        "n": left
    }


@dataclass
class RunShown:
    """A run on the runs page, with its verdict and shortages as sentences."""

    run: AssignmentRun
    tone: str
    verdict: str
    shortage_lines: list[str]


def _runs_context(request: AuthedRequest, node: Node) -> dict[str, Any]:
    runs = selectors.runs_of(node)
    shown = []
    for run in runs:
        tone, verdict = run_outcome(run)
        lines = [shortage_text(s) for s in (run.result or {}).get("shortages", [])]
        shown.append(RunShown(run, tone, verdict, lines))
    return {
        "node": node,
        "runs": shown,
        "active": next((r for r in runs if r.is_active), None),
    }


@require_GET
def run_list(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """一次分配 — start a run and read the last ones: counts, shortages, what went wrong."""
    node = place_node(request, node_pk, RUN_LEVELS)
    context = _runs_context(request, node)
    if request.headers.get("HX-Request"):  # the list refreshing itself while a run waits
        return render(request, "contacts/run_list.html", context)
    return render(
        request,
        "contacts/runs.html",
        {
            **context,
            "crumbs": breadcrumbs(node, request.user),
            "can_manage": can_manage(request.user, node),
            "queued": node.level == Level.COUNTY,
            "can_edit_rules": can_edit_rules(request.user, county_of(node)),
        },
    )


@require_POST
def run_start(request: AuthedRequest, node_pk: int) -> HttpResponse:
    node = place_node(request, node_pk, RUN_LEVELS)
    if not can_manage(request.user, node):
        return not_manager(request)
    try:
        run, started = services.assign_start(
            node=node, by=request.user, context=AuditContext.of(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    else:
        if not started:
            messages.info(
                request,
                _("A run of this place is already waiting or running; no second one was started."),
            )
        elif run.status == RunStatus.QUEUED:
            messages.success(
                request,
                _(
                    "The run is queued: the background worker does it, and this page shows the "
                    "result when it is done."
                ),
            )
        else:
            tone, verdict = run_outcome(run)
            getattr(messages, tone)(request, verdict)
    return redirect("contacts:runs", node_pk=node.pk)
