"""The county's assignment and matching rules (包保规则, 结对规则): command centre only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from minqing.accounts.middleware import AuthedRequest
from minqing.contacts import services
from minqing.contacts.forms import MatchForm, RuleForm
from minqing.contacts.models import LiaisonKind, MatchRule
from minqing.contacts.permissions import can_edit_rules
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.views import forbidden
from minqing.org.models import Node
from minqing.org.selectors import breadcrumbs, county_of
from minqing.org.views import scoped_node


def _rule_forms(
    county: Node, data: Any = None
) -> tuple[list[RuleForm], list[tuple[MatchRule, MatchForm]], MatchForm]:
    rules = services.rules_for(county)
    rule_forms = []
    for kind in LiaisonKind.values:
        rule = rules[kind]
        initial = {
            "min_load": rule.min_load,
            "max_load": rule.max_load,
            "required": rule.required,
            "active": rule.active,
            "eligible_tags": list(rule.eligible_tags.all()),
        }
        rule_forms.append(RuleForm(data, kind=kind, initial=initial))
    matches = [
        (
            m,
            MatchForm(
                data,
                prefix=f"m{m.pk}",
                initial={
                    "kind": m.kind,
                    "category": m.category,
                    "tags": list(m.tags.all()),
                    "weight": m.weight,
                },
            ),
        )
        for m in MatchRule.objects.filter(county=county).prefetch_related("tags")
    ]
    new = MatchForm(data, prefix="new", new=True, initial={"kind": LiaisonKind.PARTY_MEMBER})
    return rule_forms, matches, new


def rules(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """包保规则 — the county's loads per kind and its matching rules; command centre only.

    The whole page is one form saved in one go: on any error nothing is saved and every field
    keeps what was typed.
    """
    node = scoped_node(request, node_pk)
    try:
        county = county_of(node)
    except ValidationError:
        raise Http404 from None
    if not can_edit_rules(request.user, county):
        return forbidden(request, _("Only the county command centre sets the assignment rules."))
    data = request.POST if request.method == "POST" else None
    rule_forms, matches, new = _rule_forms(county, data)
    status = 200
    stamp = request.POST.get("stamp") if data else services.rules_stamp(county)
    if data is not None:
        status = 400
        forms_ok = [f.is_valid() for f in rule_forms] + [f.is_valid() for _m, f in matches]
        if all(forms_ok) and new.is_valid():
            try:
                changed = services.rules_save(
                    by=request.user,
                    county=county,
                    rules={f.kind: f.cleaned_data for f in rule_forms},
                    matches=[{"id": m.pk, **f.cleaned_data} for m, f in matches]
                    + ([] if new.is_blank else [{"id": None, **new.cleaned_data}]),
                    base_stamp=stamp or None,
                    context=AuditContext.of(request),
                )
            except StaleEdit:
                messages.error(request, str(StaleEdit.message))
                status = 409
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            except PermissionDenied as exc:
                return forbidden(request, exc)
            else:
                messages.success(request, _("Rules saved.") if changed else _("Nothing changed."))
                return redirect("contacts:rules", node_pk=county.pk)
        else:
            messages.error(request, _("Nothing was saved: correct the fields marked below."))
    return render(
        request,
        "contacts/rules.html",
        {
            "county": county,
            "node": node,
            "crumbs": breadcrumbs(county, request.user),
            "rule_forms": rule_forms,
            "matches": matches,
            "new": new,
            "stamp": stamp,
        },
        status=status,
    )
