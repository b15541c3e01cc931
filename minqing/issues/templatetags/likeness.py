"""How alike two issues are, in words (很像 / 相近 / 有些像) instead of a raw score."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()

#: Score bands of ``similarity.similar_issues`` (cosine with boosts, ∈ [0, 1]; nothing under
#: ``MIN_SCORE`` = 0.13 is shown): the same text in the same village scores near 1, the three
#: households of ``test_similarity`` describing one channel score 0.3–0.6 against each other.
VERY = 0.5
CLOSE = 0.3


@register.filter
def likeness(score: float) -> str:
    if score >= VERY:
        return _("very alike")
    if score >= CLOSE:
        return _("close")
    return _("somewhat alike")
