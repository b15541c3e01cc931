"""Forms of the calendar page; the rules live in ``services``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from minqing.workdays.calendar import MAX_YEAR, MIN_YEAR

DATE_FORMATS = ["%Y-%m-%d"]


def _is_workday(value: str) -> bool:
    return value == "1"


class DaySetForm(forms.Form):
    date = forms.DateField(
        label=_("Date"),
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    is_workday = forms.TypedChoiceField(
        label=_("This day is"),
        choices=[("1", _("a working day")), ("0", _("a day off"))],
        coerce=_is_workday,
    )
    name = forms.CharField(
        label=pgettext_lazy("holiday", "Name"),
        max_length=100,
        required=False,
        help_text=_("For example: National Day, or make-up working day for National Day."),
    )


class DayClearForm(forms.Form):
    date = forms.DateField(label=_("Date"), input_formats=DATE_FORMATS, widget=forms.HiddenInput)


class YearEnteredForm(forms.Form):
    year = forms.IntegerField(
        label=_("Year"), min_value=MIN_YEAR, max_value=MAX_YEAR, widget=forms.HiddenInput
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=200,
        required=False,
        help_text=_("For example: the State Council notice this schedule comes from."),
    )
