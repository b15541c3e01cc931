"""Forms of the contact-network pages. They parse and check input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from minqing.contacts.defaults import CATEGORY_BITS
from minqing.contacts.models import LiaisonCategory, LiaisonKind
from minqing.contacts.services.liaisons import MAX_CAPACITY
from minqing.contacts.services.rules import MAX_LOAD, check_rule
from minqing.households.models import HouseholdTag
from minqing.org.models import Node

CATEGORY_CHOICES = [(v, label) for v, label in LiaisonCategory.choices]
MATCH_CATEGORY_CHOICES = [("", "—"), *[(v, label) for v, label in LiaisonCategory.choices if v]]


def _capacity_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Most households"),
        required=False,
        min_value=1,
        max_value=MAX_CAPACITY,
        help_text=_("Leave empty for the county's rule for this kind."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class _PlaceForm(forms.Form):
    node = forms.ModelChoiceField(
        label=_("Group/grid"),
        queryset=Node.objects.none(),
        help_text=_("Where the person lives or works: households nearby go to them first."),
    )

    def __init__(self, *args: Any, village: Node, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["node"]
        field.queryset = Node.objects.subtree(village).order_by("path")
        # The village first, its groups indented under it.
        field.label_from_instance = lambda n: n.name if n.pk == village.pk else f"· {n.name}"


class LiaisonForm(_PlaceForm):
    """A new liaison: kind, place, category, name, phone, capacity; the resident or account it
    is made from rides along in hidden fields."""

    resident = forms.IntegerField(required=False, widget=forms.HiddenInput)
    user = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("Takes households as"), choices=LiaisonKind.choices)
    category = forms.ChoiceField(
        label=_("Category"),
        choices=CATEGORY_CHOICES,
        required=False,
        help_text=_("For the matching rules (无职党员, 流动党员, 两委党员, 年轻党员)."),
    )
    name = forms.CharField(label=_("Name"), max_length=50, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    capacity = _capacity_field()

    field_order = ["kind", "node", "category", "name", "phone", "capacity"]


class LiaisonEditForm(_PlaceForm):
    category = forms.ChoiceField(label=_("Category"), choices=CATEGORY_CHOICES, required=False)
    capacity = _capacity_field()


class RuleForm(forms.Form):
    """One assignment rule (包保规则); the prefix is its kind."""

    min_load = forms.IntegerField(label=_("Fewest households"), min_value=0, max_value=MAX_LOAD)
    max_load = forms.IntegerField(label=_("Most households"), min_value=1, max_value=MAX_LOAD)
    required = forms.BooleanField(label=_("Every eligible household"), required=False)
    active = forms.BooleanField(label=_("In use"), required=False)
    eligible_tags = forms.ModelMultipleChoiceField(
        label=_("Only households tagged"),
        queryset=HouseholdTag.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        kwargs["prefix"] = kind
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.label = LiaisonKind(kind).label

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "min_load" in data and "max_load" in data:
            for field, message in check_rule(self.kind, data).items():
                self.add_error(field, message)
        return data


class MatchForm(forms.Form):
    """One matching rule (结对规则): which households suit a category of liaison."""

    kind = forms.ChoiceField(label=_("Kind"), choices=LiaisonKind.choices, required=False)
    category = forms.ChoiceField(
        label=_("Category"), choices=MATCH_CATEGORY_CHOICES, required=False
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("Suits households tagged"),
        queryset=HouseholdTag.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: households with none of the tags the other rules name."),
    )
    weight = forms.IntegerField(
        label=_("Weight"),
        min_value=1,
        max_value=10,
        required=False,
        help_text=_("1–10; 10 weighs like a kilometre of distance."),
    )
    delete = forms.BooleanField(label=_("Remove"), required=False)

    def __init__(self, *args: Any, new: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new = new

    @property
    def is_blank(self) -> bool:
        """The empty "add a rule" row: nothing to save."""
        return self.new and not (self.data.get(self.add_prefix("category")) or "").strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("delete") or self.is_blank:
            return data
        if not data.get("kind"):
            self.add_error("kind", _("Choose the kind of liaison."))
        if data.get("category") not in CATEGORY_BITS:
            self.add_error("category", _("Choose the category of liaison."))
        if data.get("weight") is None and "weight" not in self.errors:
            self.add_error("weight", _("The weight is a whole number from 1 to 10."))
        return data
