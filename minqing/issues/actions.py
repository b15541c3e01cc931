"""The steps anyone can take on an issue, as ONE table (操作表).

Each row (a :class:`Step`) says, for one step of the closed loop:

- ``states`` — the states of the issue it starts from;
- ``applies`` — what else must hold of the issue itself (a yellow or orange colour for calling
  departments, an offered order to take one …);
- ``who`` — who may take it: a question about (user, issue), i.e. about the user, this step and
  the issue's place or unit (never "has this role somewhere");
- its label, its form, whether it is dangerous, and the sentence that says it happened.

Everything reads this table: the services enforce it (``actions.require(user, "close", issue)``
inside the row lock), the issue page lists its buttons from it (``actions.allowed_steps``) and
the page's POST handler dispatches by it. So nothing is offered that would then be refused.
Field-level rules get rows of their own: closing without a satisfied revisit is the row
``close_override``, offered only to those who may override.

The forms live in ``forms.py``; each row names the function that builds its form for one issue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from minqing.issues import forms, permissions
from minqing.issues.errors import IssueErrorCode
from minqing.issues.models import (
    COLOUR_ORDER,
    OPEN_STATES,
    WORKING_STATES,
    Colour,
    ExtensionRequest,
    Issue,
    Level,
    Source,
    Status,
)
from minqing.lib.errors import InvalidTransition, PermissionDenied


class IllegalTransition(InvalidTransition):
    """The issue is not in a state that allows this step (409, with the state it is in)."""


def _always(issue: Issue) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    """One row of the table: one step, where it applies, who may take it, its form."""

    name: str
    label: Any
    states: frozenset[str]
    who: Callable[[Any, Issue], bool]
    #: Why someone else is refused (shown after a refused POST, and by the API as 403).
    refusal: Any
    #: Past participle for "it cannot be … now" when the state does not allow it.
    verb: Any
    #: Builds the form for this issue: ``form(issue, user, data)``; None: no form on the page.
    form: Callable[[Issue, Any, Any], Any] | None = None
    applies: Callable[[Issue], bool] = _always
    #: Why the issue itself does not allow it now, when ``applies`` says no.
    not_now: Any = None
    #: A message of its own when the state does not allow it (``%(status)s``).
    state_message: Any = None
    danger: bool = False
    #: The sentence a successful step is reported with: ``done(issue, form)``.
    done: Callable[[Issue, Any], str] = field(default=lambda issue, form: _("Saved."))


# --------------------------------------------------------------------------- who may


def supervisor(user: Any, issue: Issue) -> bool:
    """Dispatches, revisits, closes and decides for the issue at its level and place."""
    return permissions.is_supervisor(user, issue)


def owner(user: Any, issue: Issue) -> bool:
    """Acts for the unit the issue is with (accept, work, resolve, return)."""
    return permissions.is_owner(user, issue)


def owner_or_supervisor(user: Any, issue: Issue) -> bool:
    return owner(user, issue) or supervisor(user, issue)


def overrider(user: Any, issue: Issue) -> bool:
    """Supervises the issue and may close it without a satisfied revisit there."""
    return supervisor(user, issue) and permissions.can_override_close(user, issue)


def called_department(user: Any, issue: Issue) -> bool:
    """Works for a department called onto this issue that has not reported in yet."""
    return permissions.called_department_of(user, issue) is not None


def co_building_unit(user: Any, issue: Issue) -> bool:
    """Works for a co-building unit of the issue's county."""
    return permissions.co_building_unit_of(user, issue) is not None


def photographer(user: Any, issue: Issue) -> bool:
    """Registers problems in the issue's place, or handles or supervises it."""
    return (
        permissions.can_register_at(user, issue.node_path)
        or owner(user, issue)
        or supervisor(user, issue)
    )


def editor(user: Any, issue: Issue) -> bool:
    return supervisor(user, issue) or issue.created_by_id == getattr(user, "pk", None)


# --------------------------------------------------------------------------- the issue itself


def joint_colour(issue: Issue) -> bool:
    return issue.colour in (Colour.YELLOW, Colour.ORANGE)


def residents_order(issue: Issue) -> bool:
    return issue.source == Source.RESIDENT


def offered(issue: Issue) -> bool:
    return issue.offered


def pending_extension(issue: Issue) -> ExtensionRequest | None:
    memo = issue.__dict__  # read once per issue object (the page asks several times)
    if "_pending_extension" not in memo:
        pending = ExtensionRequest.Decision.PENDING
        memo["_pending_extension"] = issue.extensions.filter(decision=pending).first()
    found: ExtensionRequest | None = memo["_pending_extension"]
    return found


def no_pending_extension(issue: Issue) -> bool:
    return pending_extension(issue) is None


def has_pending_extension(issue: Issue) -> bool:
    return pending_extension(issue) is not None


def colour_can_rise(issue: Issue) -> bool:
    return issue.colour != COLOUR_ORDER[-1]


# --------------------------------------------------------------------------- dispatch levels

#: Where an issue of each colour is normally sent (四色清单): blue and green stay in the village,
#: yellow goes to the town or a county department, orange to the county committee or a
#: department. Sending it elsewhere needs a confirmation on the form, recorded on the timeline.
COLOUR_TARGET_LEVELS: dict[str, frozenset[str]] = {
    Colour.GREEN: frozenset({Level.VILLAGE}),
    Colour.BLUE: frozenset({Level.VILLAGE}),
    Colour.YELLOW: frozenset({Level.TOWN, Level.DEPARTMENT}),
    Colour.ORANGE: frozenset({Level.COMMITTEE, Level.DEPARTMENT}),
}
COLOUR_WORDS = {
    Colour.GREEN: pgettext_lazy("colour", "green"),
    Colour.BLUE: pgettext_lazy("colour", "blue"),
    Colour.YELLOW: pgettext_lazy("colour", "yellow"),
    Colour.ORANGE: pgettext_lazy("colour", "orange"),
}
COLOUR_LEVEL_WORDS = {
    Colour.GREEN: pgettext_lazy("colour level", "village level"),
    Colour.BLUE: pgettext_lazy("colour level", "village level"),
    Colour.YELLOW: pgettext_lazy("colour level", "town level"),
    Colour.ORANGE: pgettext_lazy("colour level", "county level"),
}


def off_level_question(issue: Issue, unit: str) -> str:
    """ "该问题为蓝色（村级），确定派到区水利局吗？" """
    return _("This issue is %(colour)s (%(level)s); send it to %(unit)s all the same?") % {
        "colour": COLOUR_WORDS[Colour(issue.colour)],
        "level": COLOUR_LEVEL_WORDS[Colour(issue.colour)],
        "unit": unit,
    }


# --------------------------------------------------------------------------- forms per issue


def _departments(issue: Issue, kind: str = "department") -> list[Any]:
    from minqing.issues.services import county_of
    from minqing.org.models import Department

    return list(
        Department.objects.filter(county_id=county_of(issue).pk, kind=kind).order_by("name")
    )


def _dispatch_form(issue: Issue, user: Any, data: Any) -> forms.DispatchForm:
    from minqing.issues.services import default_department

    default = default_department(issue) if data is None else None
    initial = {"to": f"dept:{default.pk}"} if default else {}
    return forms.DispatchForm(
        data,
        choices=forms.unit_choices(issue, _departments(issue)),
        initial=initial,
        auto_id="dispatch-%s",
    )


def _transfer_form(issue: Issue, user: Any, data: Any) -> forms.TransferForm:
    here = f"dept:{issue.owner_department_id}" if issue.owner_department_id else ""
    if issue.owner_node_id:
        here = f"node:{issue.owner_node_id}"
    choices = [c for c in forms.unit_choices(issue, _departments(issue)) if c[0] != here]
    return forms.TransferForm(data, choices=choices, auto_id="transfer-%s")


def _resolve_form(issue: Issue, user: Any, data: Any) -> forms.ResolveForm:
    reporters = list(issue.reporters.filter(replied_at__isnull=True))
    return forms.ResolveForm(data, reporters=reporters, auto_id="resolve-%s")


def _colour_form(issue: Issue, user: Any, data: Any) -> forms.ColourForm:
    higher = COLOUR_ORDER[COLOUR_ORDER.index(issue.colour) + 1 :]
    return forms.ColourForm(data, colours=higher, auto_id="raise_colour-%s")


def _call_form(issue: Issue, user: Any, data: Any) -> forms.CallForm:
    from minqing.org.models import Department

    called = issue.check_ins.values("department_id")
    departments = (
        Department.objects.filter(pk__in=[d.pk for d in _departments(issue)])
        .exclude(pk__in=called)
        .order_by("name")
    )
    return forms.CallForm(data, departments=departments, auto_id="check_in-%s")


def _decide_form(issue: Issue, user: Any, data: Any) -> forms.DecideForm:
    pending = pending_extension(issue)
    initial = {"extension": pending.pk} if pending else {}
    return forms.DecideForm(data, initial=initial, extension=pending, auto_id="decide-%s")


def _simple(form_class: Any, name: str) -> Callable[[Issue, Any, Any], Any]:
    def build(issue: Issue, user: Any, data: Any) -> Any:
        return form_class(data, auto_id=f"{name}-%s")

    return build


# --------------------------------------------------------------------------- what was done


def _unit(issue: Issue) -> str:
    return issue.owner_label or _("the co-building units")


def _revisited(issue: Issue, form: Any) -> str:
    if issue.status == Status.REOPENED:
        return _("Revisit recorded: the resident is not satisfied; %(unit)s handles it again.") % {
            "unit": _unit(issue)
        }
    return _("Revisit recorded: the resident is satisfied. It can be closed now.")


def _sampled(issue: Issue, form: Any) -> str:
    if issue.status == Status.REOPENED:
        return _("Sample revisit recorded: the resident is not satisfied; it is reopened.")
    return _("Sample revisit recorded.")


def _decided(issue: Issue, form: Any) -> str:
    from django.utils.formats import date_format
    from django.utils.timezone import localtime

    if form.cleaned_data.get("approve"):
        return _("More time approved; it is now due %(due)s.") % {
            "due": date_format(localtime(issue.due_at), "Y-m-d") if issue.due_at else "—"
        }
    return _("Request for more time refused.")


def _called(issue: Issue, form: Any) -> str:
    names = "、".join(str(d) for d in form.cleaned_data.get("departments", []))
    return _("Departments called (吹哨): %(names)s.") % {"names": names}


# --------------------------------------------------------------------------- the table

SENDABLE = frozenset({Status.REGISTERED, Status.RETURNED})
IN_HAND = OPEN_STATES - SENDABLE

STEPS: dict[str, Step] = {
    step.name: step
    for step in [
        Step(
            "dispatch",
            gettext_lazy("Dispatch"),
            SENDABLE,
            supervisor,
            gettext_lazy("Only the dispatcher of this issue can send it."),
            gettext_lazy("dispatched"),
            form=_dispatch_form,
            done=lambda i, f: _("Sent to %(unit)s.") % {"unit": _unit(i)},
        ),
        Step(
            "accept",
            gettext_lazy("Accept"),
            frozenset({Status.DISPATCHED}),
            owner,
            gettext_lazy("Only the unit it was sent to can accept it."),
            gettext_lazy("accepted"),
            form=_simple(forms.NoteForm, "accept"),
            done=lambda i, f: _("Accepted: it is in your hands now."),
        ),
        Step(
            "start",
            gettext_lazy("Start work"),
            frozenset({Status.ACCEPTED, Status.REOPENED}),
            owner,
            gettext_lazy("Only the unit handling it can do this."),
            gettext_lazy("started"),
            form=_simple(forms.NoteForm, "start"),
            done=lambda i, f: _("Work started."),
        ),
        Step(
            "resolve",
            gettext_lazy("Resolve and reply"),
            WORKING_STATES,
            owner,
            gettext_lazy("Only the unit handling it can resolve it."),
            gettext_lazy("resolved"),
            form=_resolve_form,
            done=lambda i, f: _("Resolved; every reporter has your reply. It waits for a revisit."),
        ),
        Step(
            "revisit",
            gettext_lazy("Record the revisit"),
            frozenset({Status.RESOLVED}),
            supervisor,
            gettext_lazy("Only the supervisor of this issue can revisit."),
            gettext_lazy("revisited"),
            form=_simple(forms.RevisitForm, "revisit"),
            done=_revisited,
        ),
        Step(
            "close",
            gettext_lazy("Close (销号)"),
            frozenset({Status.REVISITED}),
            supervisor,
            gettext_lazy("Only the supervisor of this issue can close it."),
            gettext_lazy("closed"),
            form=_simple(forms.NoteForm, "close"),
            done=lambda i, f: _("Closed (销号)."),
        ),
        Step(
            "close_override",
            gettext_lazy("Close without a satisfied revisit"),
            frozenset({Status.RESOLVED}),
            overrider,
            gettext_lazy("Only town or county supervisors may close without a satisfied revisit."),
            gettext_lazy("closed"),
            form=_simple(forms.CloseOverrideForm, "close_override"),
            danger=True,
            done=lambda i, f: _("Closed without a satisfied revisit; the reason is kept."),
        ),
        Step(
            "return",
            gettext_lazy("Return (misrouted)"),
            frozenset({Status.DISPATCHED, Status.ACCEPTED}),
            owner,
            gettext_lazy("Only the unit it was sent to can return it."),
            gettext_lazy("returned"),
            form=_simple(forms.ReasonForm, "return"),
            danger=True,
            done=lambda i, f: _("Returned to %(unit)s for dispatch.") % {"unit": _unit(i)},
        ),
        Step(
            "transfer",
            gettext_lazy("Pass on to another unit"),
            IN_HAND,
            owner_or_supervisor,
            gettext_lazy("Only the unit handling it or its supervisor can pass it on."),
            gettext_lazy("transferred"),
            form=_transfer_form,
            done=lambda i, f: _("Passed on to %(unit)s.") % {"unit": _unit(i)},
        ),
        Step(
            "extension_request",
            gettext_lazy("Ask for more time"),
            IN_HAND,
            owner,
            gettext_lazy("Only the unit handling it can ask for more time."),
            gettext_lazy("given more time"),
            form=_simple(forms.ExtensionForm, "extension_request"),
            applies=no_pending_extension,
            not_now=gettext_lazy("A request for more time is already waiting."),
            done=lambda i, f: _("Request for more time sent; the supervisor decides."),
        ),
        Step(
            "decide",
            gettext_lazy("Decide on more time"),
            OPEN_STATES,
            supervisor,
            gettext_lazy("Only the supervisor of this issue can decide."),
            gettext_lazy("given more time"),
            form=_decide_form,
            applies=has_pending_extension,
            not_now=gettext_lazy("No request for more time is waiting."),
            state_message=gettext_lazy("This issue is %(status)s; there is no deadline to move."),
            done=_decided,
        ),
        Step(
            "escalate",
            gettext_lazy("Escalate"),
            OPEN_STATES,
            supervisor,
            gettext_lazy("Only the supervisor of this issue can escalate it."),
            gettext_lazy("escalated"),
            form=_simple(forms.EscalateForm, "escalate"),
            danger=True,
            done=lambda i, f: (
                _("Escalated: now handled at %(level)s level, by %(unit)s.")
                % {"level": i.get_level_display(), "unit": _unit(i)}
            ),
        ),
        Step(
            "raise_colour",
            gettext_lazy("Raise the colour"),
            OPEN_STATES,
            owner_or_supervisor,
            gettext_lazy("Only the unit handling it or its supervisor can change its colour."),
            gettext_lazy("given another colour"),
            form=_colour_form,
            applies=colour_can_rise,
            not_now=gettext_lazy("A colour can only be raised, never lowered or kept."),
            done=lambda i, f: _("The colour is now %(colour)s.") % {"colour": i.colour_label},
        ),
        Step(
            "check_in",
            gettext_lazy("Call departments (吹哨)"),
            OPEN_STATES,
            supervisor,
            gettext_lazy("Only the supervisor of this issue can call in."),
            gettext_lazy("joined"),
            form=_call_form,
            applies=joint_colour,
            not_now=gettext_lazy("Departments are called onto yellow and orange issues."),
            done=_called,
        ),
        Step(
            "report_in",
            gettext_lazy("Report in (报到)"),
            OPEN_STATES,
            called_department,
            gettext_lazy("Your department has not been called onto this issue."),
            gettext_lazy("joined"),
            form=_simple(forms.NoteForm, "report_in"),
            done=lambda i, f: _("Your department has reported in (报到)."),
        ),
        Step(
            "offer",
            gettext_lazy("Offer to co-building units"),
            SENDABLE,
            supervisor,
            gettext_lazy("Only the dispatcher of this issue can offer it."),
            gettext_lazy("dispatched"),
            form=_simple(forms.NoteForm, "offer"),
            applies=residents_order,
            not_now=gettext_lazy("Only residents' own orders are offered to co-building units."),
            done=lambda i, f: _("Offered to co-building units; the first to take it handles it."),
        ),
        Step(
            "take",
            gettext_lazy("Take this order"),
            frozenset({Status.REGISTERED, Status.RETURNED, Status.DISPATCHED}),
            co_building_unit,
            gettext_lazy("Only co-building units of this county take residents' orders."),
            gettext_lazy("taken"),
            form=_simple(forms.NoteForm, "take"),
            applies=offered,
            not_now=gettext_lazy("This order is not offered to co-building units."),
            done=lambda i, f: _("Order taken: your unit handles it now."),
        ),
        Step(
            "merge",
            gettext_lazy("Merge into another issue"),
            OPEN_STATES,
            supervisor,
            gettext_lazy("Only a supervisor of both issues can merge them."),
            gettext_lazy("merged"),
            form=_simple(forms.MergeForm, "merge"),
            danger=True,
            done=lambda i, f: (
                _("Merged into #%(pk)s; its reporters wait for that one's reply.")
                % {"pk": i.merged_into_id}
            ),
        ),
        Step(
            "sample_revisit",
            gettext_lazy("Sample revisit"),
            frozenset({Status.CLOSED}),
            supervisor,
            gettext_lazy("Only the supervisor of this issue can revisit."),
            gettext_lazy("revisited by sample"),
            form=_simple(forms.SampleRevisitForm, "sample_revisit"),
            done=_sampled,
        ),
        Step(
            "reopen",
            gettext_lazy("Reopen"),
            frozenset({Status.CLOSED, Status.REVISITED}),
            supervisor,
            gettext_lazy("Only the supervisor of this issue can reopen it."),
            gettext_lazy("reopened"),
            form=_simple(forms.ReasonForm, "reopen"),
            danger=True,
            done=lambda i, f: _("Reopened: %(unit)s handles it again.") % {"unit": _unit(i)},
        ),
        Step(
            "photo",
            gettext_lazy("Add photo"),
            frozenset(Status.values),
            photographer,
            gettext_lazy("You may not add photos to this issue."),
            gettext_lazy("edited"),
        ),
        Step(
            "edit",
            gettext_lazy("Edit"),
            OPEN_STATES,
            editor,
            gettext_lazy("Only whoever registered it or its supervisor can edit it."),
            gettext_lazy("edited"),
            state_message=gettext_lazy("This issue is %(status)s; it can no longer be edited."),
        ),
    ]
}


# --------------------------------------------------------------------------- asking the table


def _status_label(issue: Issue) -> str:
    return str(Status(issue.status).label)


def refusal(user: Any, name: str, issue: Issue) -> Exception | None:
    """Why ``user`` may not take step ``name`` on ``issue`` now (None: they may): an
    ``IllegalTransition`` when the issue does not allow it, else ``PermissionDenied``."""
    step = STEPS[name]
    if issue.status not in step.states:
        if step.state_message is not None:
            text = str(step.state_message) % {"status": _status_label(issue)}
        else:
            text = _("This issue is %(status)s; it cannot be %(action)s now.") % {
                "status": _status_label(issue),
                "action": step.verb,
            }
        return IllegalTransition(text, code=IssueErrorCode.WRONG_STATE)
    if not step.applies(issue):
        return IllegalTransition(str(step.not_now), code=IssueErrorCode.NOT_NOW)
    if not step.who(user, issue):
        return PermissionDenied(str(step.refusal))
    return None


def allowed(user: Any, name: str, issue: Issue) -> bool:
    return refusal(user, name, issue) is None


def require(user: Any, name: str, issue: Issue) -> None:
    """Raise why ``user`` may not take step ``name`` on ``issue``; the services call it with
    the row locked."""
    problem = refusal(user, name, issue)
    if problem is not None:
        raise problem


def allowed_steps(user: Any, issue: Issue) -> list[Step]:
    """The steps with a form that ``user`` may take on ``issue`` now, in the table's order."""
    return [s for s in STEPS.values() if s.form is not None and allowed(user, s.name, issue)]
