"""Showing a service's refusal on the form the user filled in."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import BaseForm


def add_errors(form: BaseForm, exc: ValidationError) -> None:
    """File each error of ``exc`` under its field where the form has that field, else above
    the form (non-field errors); the errors keep their codes (``form.errors.as_data()``)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for error in exc.error_list:
            form.add_error(None, error)


def errors_text(form: BaseForm) -> str:
    """A form's errors as one line ("Label: message …"), for a flash message."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)
