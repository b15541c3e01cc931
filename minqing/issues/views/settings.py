"""The issue settings: categories (and their default departments) and deadline rules."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from minqing.accounts.middleware import AuthedRequest
from minqing.issues import forms
from minqing.issues.models import Category, DeadlineRule
from minqing.issues.services import settings as services_settings
from minqing.issues.views.common import int_or_404
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Department


def issue_settings(request: AuthedRequest) -> HttpResponse:
    """Categories (and their default departments) and deadlines, editable by the command centre."""
    if not services_settings.can_edit_settings(request.user):
        return forbidden(request, _("Only the command centre edits the issue settings."))
    status = 200
    category_form: forms.CategoryForm | forms.CategoryEditForm = forms.CategoryForm(prefix="new")
    if request.method == "POST":
        try:
            if request.POST.get("what") == "rule":
                rule = get_object_or_404(DeadlineRule, pk=int_or_404(request.POST.get("rule")))
                form = forms.RuleForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(form.errors.as_data().popitem()[1])
                services_settings.deadline_rule_save(
                    by=request.user,
                    rule=rule,
                    context=AuditContext.of(request),
                    **form.cleaned_data,
                )
            else:
                pk = request.POST.get("category")
                category = get_object_or_404(Category, pk=int_or_404(pk)) if pk else None
                form_class = forms.CategoryForm if category is None else forms.CategoryEditForm
                category_form = form_class(
                    request.POST, prefix="new" if category is None else f"c{pk}", instance=category
                )
                if not category_form.is_valid():
                    raise ValidationError(list(category_form.errors.as_data().values())[0])
                services_settings.category_save(
                    by=request.user,
                    category=category,
                    data=category_form.cleaned_data,
                    context=AuditContext.of(request),
                )
        except ValidationError as exc:
            for msg in exc.messages:
                messages.error(request, msg)
            status = 400
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("issues:settings")
    departments = list(Department.objects.order_by("kind", "name"))
    names = _department_names(departments)
    new_category = (
        category_form if category_form.instance.pk is None else forms.CategoryForm(prefix="new")
    )
    categories = []
    for c in Category.objects.all():
        row = forms.CategoryForm(instance=c, prefix=f"c{c.pk}")
        categories.append((c, _department_select(row, departments), names.get(c.department_code)))
    return render(
        request,
        "issues/settings.html",
        {
            "categories": categories,
            "new_category": _department_select(new_category, departments),
            "rules": DeadlineRule.objects.order_by("colour", "complexity"),
        },
        status=status,
    )


def _department_names(departments: list[Department]) -> dict[str, str]:
    """Department code → the names of the county departments with that code (one per county)."""
    names: dict[str, list[str]] = {}
    for d in departments:
        if d.code and d.name not in names.setdefault(d.code, []):
            names[d.code].append(d.name)
    return {code: "、".join(n) for code, n in names.items()}


def _department_select(form: Any, departments: list[Department]) -> Any:
    """The category's department as a choice among the departments by name, not a typed code;
    a code no department has any more stays selectable, saying so."""
    from django import forms as django_forms

    names = _department_names(departments)
    current = form["department_code"].value() or ""
    choices = [("", _("No default department")), *sorted(names.items(), key=lambda kv: kv[1])]
    if current and current not in names:
        choices.append((current, _("%(code)s (no department has this code)") % {"code": current}))
    field = form.fields["department_code"]
    field.widget = django_forms.Select(choices=choices)
    field.label = _("Default department")
    field.help_text = ""
    return form
