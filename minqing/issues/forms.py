"""Forms of the issue pages. They validate input and hand it to a service; no rules here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from minqing.issues.models import (
    Category,
    Colour,
    Complexity,
    ContactMode,
    Issue,
    Satisfaction,
    Source,
)
from minqing.org.models import Department, Node

TEXT = forms.Textarea(attrs={"rows": 3})


class RegisterForm(forms.Form):
    """登记问题 — phone-first: the colour and category are big choices, the text is free."""

    colour = forms.ChoiceField(
        label=_("Colour"), choices=Colour.choices, widget=forms.RadioSelect, initial=Colour.BLUE
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.filter(active=True), empty_label=None
    )
    description = forms.CharField(
        label=_("What is the problem?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    resolution = forms.CharField(
        label=_("What was done on the spot (green only)"),
        required=False,
        max_length=2000,
        widget=TEXT,
    )
    complexity = forms.ChoiceField(
        label=_("Complexity"), choices=Complexity.choices, initial=Complexity.GENERAL
    )
    source = forms.ChoiceField(label=_("Found through"), choices=Source.choices)
    title = forms.CharField(label=_("Short title (optional)"), max_length=100, required=False)
    reporter_name = forms.CharField(
        label=_("Reporter (if not the household head)"), max_length=50, required=False
    )
    reporter_phone = forms.CharField(label=_("Reporter's phone"), max_length=20, required=False)
    reporter_words = forms.CharField(
        label=_("In the resident's words"), max_length=2000, required=False, widget=TEXT
    )
    photo = forms.FileField(
        label=_("Photo (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )


class PhotoForm(forms.Form):
    photo = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )


class AttachForm(forms.Form):
    """Add a reporting household to an existing issue instead of registering a duplicate."""

    words = forms.CharField(
        label=_("In the resident's words"), max_length=2000, required=False, widget=TEXT
    )
    name = forms.CharField(label=_("Name"), max_length=50, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)


def unit_choices(issue: Issue, departments: list[Department]) -> list[tuple[str, str]]:
    """Where an issue can be sent: its village, its town, the county, or a county unit."""
    from minqing.issues.services import county_of

    nodes: list[Node] = [n for n in (issue.village, issue.town) if n is not None]
    county = county_of(issue)
    choices = [(f"node:{n.pk}", str(n)) for n in nodes]
    committee = _("county committee")
    choices.append((f"node:{county.pk}", f"{county} · {committee}"))
    choices += [(f"dept:{d.pk}", str(d)) for d in departments]
    return choices


class UnitField(forms.ChoiceField):
    def target(self, value: str, departments: list[Department], nodes: dict[int, Node]):
        kind, _sep, pk = value.partition(":")
        if kind == "dept":
            return None, next(d for d in departments if str(d.pk) == pk)
        return nodes[int(pk)], None


class DispatchForm(forms.Form):
    to = UnitField(label=_("Send to"))
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=TEXT)
    #: The unit the user confirmed sending an off-level issue to (the form's second step).
    confirm_to = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit_field.choices = choices
        self.unit_labels = dict(choices)
        self.question = ""  # "该问题为蓝色（村级），确定派到区水利局吗？" once the service asks

    def level_confirmed(self) -> bool:
        """The user confirmed this very unit (a changed choice asks again)."""
        return bool(self.cleaned_data.get("confirm_to")) and (
            self.cleaned_data["confirm_to"] == self.cleaned_data.get("to")
        )

    def unit_label(self) -> str:
        return self.unit_labels.get(self.data.get("to", ""), "")

    @property
    def unit_field(self) -> forms.ChoiceField:
        field = self.fields["to"]
        assert isinstance(field, forms.ChoiceField)  # declared above as a UnitField
        return field


class TransferForm(DispatchForm):
    # Django's way to drop an inherited field; the stubs know fields only as declared.
    note = None  # type: ignore[assignment]  # the reason is what goes on the timeline
    confirm_to = None  # type: ignore[assignment]
    reason = forms.CharField(label=_("Why pass it on"), max_length=2000, widget=TEXT)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=TEXT)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=TEXT)


class ResolveForm(forms.Form):
    """办结: what was done, and one reply per reporter still waiting for one."""

    resolution = forms.CharField(label=_("What was done"), max_length=2000, widget=TEXT)

    def __init__(self, *args: Any, reporters: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reporters = reporters
        for r in reporters:
            self.fields[f"reply_{r.pk}"] = forms.CharField(
                label=_("Reply to %(name)s") % {"name": r},
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def replies(self) -> dict[int, str]:
        return {r.pk: self.cleaned_data.get(f"reply_{r.pk}", "") for r in self.reporters}


class RevisitForm(forms.Form):
    mode = forms.ChoiceField(label=_("How"), choices=ContactMode.choices)
    result = forms.ChoiceField(
        label=_("Is the resident satisfied?"),
        choices=Satisfaction.choices,
        widget=forms.RadioSelect,
    )
    words = forms.CharField(
        label=_("The resident's words (required when not satisfied)"),
        max_length=2000,
        required=False,
        widget=TEXT,
    )


class CloseOverrideForm(forms.Form):
    """销号 without a satisfied revisit: only with the reason, kept on the timeline."""

    override_reason = forms.CharField(
        label=_("Reason for closing without a satisfied revisit"),
        max_length=2000,
        widget=TEXT,
    )


class ExtensionForm(forms.Form):
    workdays = forms.IntegerField(label=_("Extra working days"), min_value=1, max_value=30)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=TEXT)


class DecideForm(forms.Form):
    extension = forms.IntegerField(widget=forms.HiddenInput)
    approve = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Approve")), ("0", _("Refuse"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=TEXT)

    def __init__(self, *args: Any, extension: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extension = extension  # the request shown above the decision


class MergeForm(forms.Form):
    target = forms.IntegerField(label=_("Merge into issue number"), min_value=1)
    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False, widget=TEXT)


class ColourForm(forms.Form):
    colour = forms.ChoiceField(label=_("New colour"), choices=Colour.choices)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=TEXT)

    def __init__(self, *args: Any, colours: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if colours is not None:  # only the colours above the issue's: it is never lowered
            field = self.fields["colour"]
            assert isinstance(field, forms.ChoiceField)  # declared above
            field.choices = [c for c in Colour.choices if c[0] in colours]


class CallForm(forms.Form):
    departments = forms.ModelMultipleChoiceField(
        label=_("Departments to call"),
        queryset=Department.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, departments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["departments"]
        assert isinstance(field, forms.ModelMultipleChoiceField)  # declared above
        field.queryset = departments


class EscalateForm(ReasonForm):
    pass


class SampleRevisitForm(RevisitForm):
    pass


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["code", "name", "name_en", "kind", "department_code", "active", "sort_key"]


class CategoryEditForm(forms.ModelForm):
    """The code identifies a category in the API and the ledgers: it does not change."""

    class Meta:
        model = Category
        fields = ["name", "name_en", "kind", "department_code", "active", "sort_key"]


class RuleForm(forms.Form):
    amount = forms.IntegerField(label=_("Amount"), min_value=0, max_value=60)
    unit = forms.ChoiceField(
        label=_("Unit"), choices=[("workdays", _("working days")), ("months", _("months"))]
    )
