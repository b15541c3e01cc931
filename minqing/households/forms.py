"""Forms for the archive pages; the rules themselves live in ``validation``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from minqing.households.models import Health, HouseholdTag, Politics, Relation, Sex
from minqing.households.services.validation import clean_household, clean_resident


class _RuleForm(forms.Form):
    """Runs a ``validation.clean_*`` function and files its messages under the fields."""

    rule: Any = None

    def clean(self) -> dict[str, Any]:
        raw = dict(self.cleaned_data)
        try:
            cleaned = type(self).rule(raw)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
            return self.cleaned_data
        self.cleaned_data.update(cleaned)
        return self.cleaned_data


def keep_blank_confidential(form: forms.Form, fields: frozenset[str]) -> None:
    """On an edit form, confidential fields start empty and say that blank keeps the record."""
    for name in fields & form.fields.keys():
        form.fields[name].help_text = _("Leave blank to keep what is recorded.")


CHILD_TEXT_LOCKED = _(
    "This text names a child under 14: only someone with the minors permission here may change it."
)


def lock_child_texts(form: forms.Form, obj: Any, shown: Any, fields: tuple[str, ...]) -> set[str]:
    """For an editor without the minors permission: a free-text field that names one of the
    household's children is shown masked and read-only (a masked copy saved back would write
    the stars over the names). Returns the locked fields, to leave out of the edit."""
    locked: set[str] = set()
    if shown is None or not shown.text:
        return locked
    for name in fields:
        if name not in form.fields:
            continue
        recorded = getattr(obj, name) or ""
        masked = shown.text(recorded)
        if masked != recorded:
            form.fields[name].disabled = True
            form.fields[name].help_text = CHILD_TEXT_LOCKED
            form.initial = {**form.initial, name: masked}
            locked.add(name)
    return locked


class HouseholdForm(_RuleForm):
    rule = staticmethod(clean_household)
    #: The version the editor saw. Not required by the form, so a post without it still gets
    #: the service's clear refusal and keeps what was typed (a new household needs none).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)
    number = forms.CharField(label=_("Household number"), max_length=32)
    head_name = forms.CharField(label=_("Head of household"), max_length=50)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    phone = forms.CharField(
        label=_("Contact phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    node: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("Group/grid"), queryset=None, required=False
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("Key-household tags"),
        required=False,
        queryset=HouseholdTag.objects.all(),
        widget=forms.CheckboxSelectMultiple,
    )
    income_source = forms.CharField(label=_("Main income source"), max_length=100, required=False)
    income_notes = forms.CharField(
        label=_("Income notes (confidential)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    family_situation = forms.CharField(
        label=_("Family situation"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    children_education = forms.CharField(
        label=_("Children's education"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    social_relations = forms.CharField(
        label=_("Social relations"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, village: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from minqing.org.models import Node

        node = self.fields["node"]
        assert isinstance(node, forms.ModelChoiceField)
        node.queryset = (
            Node.objects.subtree(village) if village is not None else Node.objects.none()
        )


class ResidentForm(_RuleForm):
    rule = staticmethod(clean_resident)
    #: The member's version the editor saw; an edit without it is refused (docs/SECURITY-BAR.md
    #: §18).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)
    name = forms.CharField(label=_("Name"), max_length=50)
    relation = forms.ChoiceField(label=_("Relation to head"), choices=Relation.choices)
    sex = forms.ChoiceField(label=_("Sex"), choices=[("", "—"), *Sex.choices], required=False)
    id_number = forms.CharField(label=_("ID number"), max_length=18, required=False)
    birth_date = forms.DateField(
        label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    politics = forms.ChoiceField(label=_("Political status"), choices=Politics.choices)
    education = forms.CharField(label=_("Education"), max_length=30, required=False)
    occupation = forms.CharField(label=_("Occupation"), max_length=50, required=False)
    works_away = forms.BooleanField(label=_("Works away from home"), required=False)
    health = forms.ChoiceField(label=_("Health"), choices=Health.choices)
    health_notes = forms.CharField(
        label=_("Health notes (confidential)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class VillageArchiveForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)
    committee = forms.CharField(
        label=_("Village committee (两委班子)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    collective_economy = forms.CharField(
        label=_("Collective economy"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    party_building = forms.CharField(
        label=_("Party building"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    stability = forms.CharField(
        label=_("Stability and disputes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    year_plan = forms.CharField(
        label=_("Plan for the year"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    area_km2 = forms.DecimalField(
        label=_("Area (km²)"), required=False, max_digits=8, decimal_places=2, min_value=0
    )
    office_phone = forms.CharField(
        label=_("Office phone"),
        required=False,
        max_length=30,
        help_text=_("The village or community office's number, printed on the contact cards."),
        validators=[
            RegexValidator(
                r"^\+?[0-9][0-9 ()-]{5,28}[0-9]$",
                _("Enter the office phone in digits, e.g. 0558-5123456 or 13812345678."),
            )
        ],
    )


class RemoveResidentForm(forms.Form):
    reason = forms.CharField(label=_("Reason (moved away, deceased…)"), max_length=200)
