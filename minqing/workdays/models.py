"""The county's entries in the working-day calendar (工作日历).

The State Council's schedule (放假安排) comes from the ``holidays`` package; these tables hold
only what the county adds: single days it overrides and years whose schedule it has entered by
hand. Write them through ``services`` only: every change must also renew ``CalendarRevision``,
or other processes keep using their cached calendar.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """调休 entry — one date the county declares a working day or a day off, overriding the
    State Council schedule the library knows."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=100, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("updated by"),
    )
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {'workday' if self.is_workday else 'off'}"


class CalendarYear(models.Model):
    """A year whose official holiday schedule the county has entered by hand (the library does
    not know it yet); deadlines may run into it from then on."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("entered by"),
    )
    entered_at = models.DateTimeField(_("entered at"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


class CalendarRevision(models.Model):
    """One row whose token changes with every calendar change, so that each process can tell
    with one cheap query whether its cached calendar is stale."""

    # A random token rather than a counter: a rolled-back change could otherwise leave a
    # counter value that a later, different change reuses.
    token = models.CharField(max_length=32)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.token
