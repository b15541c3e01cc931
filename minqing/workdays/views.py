"""The working-day calendar page (工作日历): everyone reads it; the county keeps it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from minqing.accounts.middleware import AuthedRequest
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.forms import errors_text
from minqing.lib.views import forbidden
from minqing.workdays import selectors, services
from minqing.workdays.calendar import MAX_YEAR, MIN_YEAR
from minqing.workdays.forms import DayClearForm, DaySetForm, YearEnteredForm

#: Column heads of the small month grids: one or two letters (一 二 三 … in Chinese).
WEEKDAY_HEADS = [
    pgettext_lazy("calendar column", "Mo"),
    pgettext_lazy("calendar column", "Tu"),
    pgettext_lazy("calendar column", "We"),
    pgettext_lazy("calendar column", "Th"),
    pgettext_lazy("calendar column", "Fr"),
    pgettext_lazy("calendar column", "Sa"),
    pgettext_lazy("calendar column", "Su"),
]
FORMS: dict[str, type[forms.Form]] = {
    "set_day": DaySetForm,
    "clear_day": DayClearForm,
    "mark_year": YearEnteredForm,
}


def _year(request: HttpRequest) -> int:
    raw = request.GET.get("year", "")
    if not raw:
        return timezone.localdate().year
    if not raw.isdigit() or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise Http404
    return int(raw)


def _run(request: AuthedRequest, action: str, data: dict[str, Any]) -> int:
    """Call the service for ``action``; return the year to show afterwards."""
    if action == "set_day":
        day = services.calendar_day_set(
            by=request.user,
            date=data["date"],
            is_workday=data["is_workday"],
            name=data["name"],
            context=AuditContext.of(request),
        )
        state = _("a working day") if day.is_workday else _("a day off")
        messages.success(
            request, _("%(date)s is now %(state)s.") % {"date": day.date, "state": state}
        )
        return day.date.year
    if action == "clear_day":
        services.calendar_day_clear(
            by=request.user, date=data["date"], context=AuditContext.of(request)
        )
        messages.success(
            request,
            _("The county entry for %(date)s is removed; the official schedule applies.")
            % {"date": data["date"]},
        )
        return data["date"].year
    entry = services.calendar_year_mark_entered(
        by=request.user, year=data["year"], note=data["note"], context=AuditContext.of(request)
    )
    messages.success(
        request,
        _("The schedule for %(year)s is marked entered; deadlines may now run into it.")
        % {"year": entry.year},
    )
    return entry.year


def calendar_page(request: AuthedRequest) -> HttpResponse:
    year = _year(request)
    can_edit = services.can_edit_calendar(request.user)
    day_form: forms.Form = DaySetForm(initial={"is_workday": "0"})
    year_form: forms.Form = YearEnteredForm(initial={"year": year})
    if request.method == "POST":
        if not can_edit:
            return forbidden(
                request,
                _(
                    "Only the county command centre or a system administrator may change the "
                    "working-day calendar."
                ),
            )
        action = request.POST.get("action", "")
        form_class = FORMS.get(action)
        if form_class is None:
            messages.error(request, _("Unknown action; nothing was changed."))
        else:
            form = form_class(request.POST)
            if form.is_valid():
                try:
                    shown = _run(request, action, form.cleaned_data)
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
                except PermissionDenied as exc:
                    return forbidden(request, exc)
                else:
                    return redirect(f"{reverse('workdays:calendar')}?year={shown}")
            else:
                messages.error(
                    request,
                    _("Nothing was changed: %(errors)s") % {"errors": errors_text(form)},
                )
            if action == "set_day":
                day_form = form
            elif action == "mark_year":
                year_form = form
    overview = selectors.year_overview(year)
    return render(
        request,
        "workdays/calendar.html",
        {
            "overview": overview,
            "year": year,
            "previous_year": year - 1 if year > MIN_YEAR else None,
            "next_year": year + 1 if year < MAX_YEAR else None,
            "can_edit": can_edit,
            "day_form": day_form,
            "year_form": year_form,
            "weekdays": WEEKDAY_HEADS,
        },
    )
