"""The village archive (村情档案) page."""

from __future__ import annotations

from typing import Any, cast

from django.http import Http404, HttpResponse, QueryDict
from django.utils.translation import gettext as _

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.permissions import Action, refusal
from minqing.households import selectors, services
from minqing.households.forms import VillageArchiveForm
from minqing.households.models import VillageArchive
from minqing.households.views.common import (
    choices_applied,
    form_page,
    set_posted,
    submit,
)
from minqing.lib.context import AuditContext
from minqing.org.models import Level
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node


def village_archive_edit(request: AuthedRequest, node_pk: int) -> HttpResponse:
    village = scoped_node(request, node_pk)
    if village.level != Level.VILLAGE:
        raise Http404
    if page := refusal(request, Action.EDIT_ARCHIVE, village):
        return page
    archive = VillageArchive.objects.filter(village=village).first()
    initial: dict[str, Any] = {"version": archive.version if archive else 0}
    if archive:
        initial.update(
            {f: getattr(archive, f) for f in VillageArchiveForm.base_fields if f != "version"}
        )
    posted = (
        choices_applied(request.POST, lambda d, n: _put_archive_value(d, n, archive))
        if request.method == "POST"
        else None
    )
    form = VillageArchiveForm(posted, initial=initial)
    outcome: HttpResponse | int = 200
    conflicts: list[selectors.Conflict] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        outcome = submit(
            request,
            form,
            lambda: services.village_archive_update(
                by=request.user,
                village=village,
                data=data,
                base_version=version,
                context=AuditContext.of(request),
            ),
            success=_("Village archive saved."),
            done=lambda: ("org:node", village.pk),
            version_now=lambda: (
                VillageArchive.objects.filter(village=village)
                .values_list("version", flat=True)
                .first()
                or 0
            ),
        )
        if outcome == 409:
            current = VillageArchive.objects.get(village=village)
            conflicts = selectors.archive_conflicts(
                current,
                version or 0,
                data,
                {name: str(f.label) for name, f in form.fields.items()},
            )
            set_posted(form, "version", current.version)
            for conflict in conflicts:
                if conflict.default == "theirs":
                    rebased = cast(QueryDict, form.data).copy()
                    _put_archive_value(rebased, conflict.field, current)
                    form.data = rebased
    return form_page(
        request,
        form,
        outcome,
        title=_("Village archive of %(name)s") % {"name": village.name},
        crumbs=breadcrumbs(village, request.user),
        conflicts=conflicts,
        both_changed=any(c.default == "mine" for c in conflicts),
        stale=outcome == 409,
    )


def _put_archive_value(data: Any, name: str, archive: VillageArchive | None) -> None:
    if archive is not None and name in VillageArchiveForm.base_fields and name != "version":
        value = getattr(archive, name)
        data[name] = "" if value is None else str(value)
