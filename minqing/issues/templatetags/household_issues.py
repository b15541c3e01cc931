"""What the issues app adds to the households app, which sits below it and imports none of it:

- ``{% household_issues household %}``: the "Register an issue" button and the issues a
  household raised, on the household page;
- the issues' part of the top search (``register_issue_search``), registered when the issues
  app is ready (``IssuesConfig.ready``).
"""

from typing import Any

from django import template
from django.utils import timezone

from minqing.households.models import Household
from minqing.households.selectors import register_issue_search, search_numbered
from minqing.issues.models import Issue
from minqing.issues.selectors import issues_of_household

register = template.Library()

#: What an issue's row in a list shows, read with the issue.
ROW_RELATED = ("village", "category", "owner_node", "owner_department")


@register.inclusion_tag("issues/_household_issues.html", takes_context=True)
def household_issues(context: template.Context, household: Household) -> dict[str, Any]:
    return {
        "household": household,
        "issues": issues_of_household(context["request"].user, household),
        "now": timezone.now(),
    }


def search_issues(user: Any, query: str) -> tuple[bool, list[Any]]:
    """Issues the reader may see, by number or by the words of their title and description."""
    visible = Issue.objects.visible_to(user).select_related(*ROW_RELATED)
    return search_numbered(visible, query, ("title", "description"))


register_issue_search(search_issues)
