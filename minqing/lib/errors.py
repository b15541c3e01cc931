"""Errors that services raise and views translate into HTTP answers."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class StaleEdit(Exception):
    """The edit was based on an older version of the record (SECURITY.md 18): answer 409."""

    message = _(
        "Someone else changed this record after you opened it. Reload, check their "
        "change and apply yours again; your input is kept below."
    )


class PermissionDenied(Exception):
    """The user is in scope but lacks the permission for this action: answer 403."""


class InvalidTransition(ValidationError):
    """The record is not in a state that allows this step (e.g. revisiting an unresolved
    issue): a form shows the message; the API answers 409 Conflict."""
