"""Password rules of docs/SECURITY-BAR.md §2: at least 3 of the 4 character classes."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_CLASSES = (r"[a-z]", r"[A-Z]", r"\d", r"[^a-zA-Z\d]")


class CharacterClassValidator:
    """Lower case, upper case, digits, symbols: at least three of them."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: object = None) -> None:
        found = sum(1 for pattern in _CLASSES if re.search(pattern, password))
        if found < self.min_classes:
            raise ValidationError(
                _(
                    "The password must mix at least %(n)d of: lower case, upper case, "
                    "digits, symbols."
                )
                % {"n": self.min_classes},
                code="password_classes",
            )

    def get_help_text(self) -> str:
        return _("Use at least %(n)d of: lower case, upper case, digits, symbols.") % {
            "n": self.min_classes
        }
