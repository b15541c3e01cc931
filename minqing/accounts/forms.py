"""The accounts' forms: the login form (the username is normalised, and the rate limits and
lockout are checked before the password is even tried: accounts.services, one order for every
login path) and the security administrator's account pages (the rules live in
``services.admin``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from minqing.accounts.models import Role
from minqing.accounts.services import LoginRefused, login_guard, normalise_username
from minqing.lib.context import AuditContext
from minqing.org.models import Department, Node


class LoginForm(AuthenticationForm):
    #: Set when the login was refused before the password was tried (already audited).
    refusal: LoginRefused | None = None

    def clean_username(self) -> str:
        # NFKC can lengthen a name (ﷺ is 18 letters): cut to what the audit trail keeps.
        return normalise_username(self.cleaned_data.get("username") or "")[:150]

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.cleaned_data.get("password"):
            try:
                context = AuditContext.of(self.request) or AuditContext(via="web")
                login_guard(context, username, via="web")
            except LoginRefused as exc:
                self.refusal = exc
                raise ValidationError(exc.message, code=exc.code) from None
        return super().clean()


class UserSearchForm(forms.Form):
    q = forms.CharField(label=_("Username or name"), max_length=150, required=False)
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("Any role"))] + list(Role.choices)
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("All")), ("active", _("Active")), ("disabled", _("Disabled"))],
    )


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    full_name = forms.CharField(label=_("Full name"), max_length=50, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)


class NodeChoiceField(forms.ModelChoiceField):
    """Places indented by their depth in the tree."""

    def label_from_instance(self, obj: Any) -> str:
        return "\u3000" * obj.depth + obj.name


class RoleGrantForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    node = NodeChoiceField(
        label=_("Place"),
        queryset=Node.objects.none(),
        required=False,
        help_text=_("For roles over a place: the town, village or grid they cover."),
    )
    department = forms.ModelChoiceField(
        label=_("Department or unit"),
        queryset=Department.objects.none(),
        required=False,
        help_text=_("For department staff and co-building units."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        node_field = self.fields["node"]
        assert isinstance(node_field, forms.ModelChoiceField)
        node_field.queryset = Node.objects.order_by("path")
        dept_field = self.fields["department"]
        assert isinstance(dept_field, forms.ModelChoiceField)
        dept_field.queryset = Department.objects.order_by("name")
