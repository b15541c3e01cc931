"""Reading household archives: the household page, the search, stale edits, and what of a
household its reader may see."""

from minqing.households.selectors.conflicts import (
    EXTRA_FIELDS,
    Conflict,
    archive_conflicts,
    changes_since,
    member_conflicts,
    stale_conflicts,
)
from minqing.households.selectors.find import (
    ISSUE_LIMIT,
    ISSUE_NUMBER,
    SEARCH_LIMIT,
    IssueSearch,
    SearchResults,
    prefix_q,
    query_is_private,
    register_issue_search,
    search,
    search_issues,
    search_numbered,
)
from minqing.households.selectors.pages import (
    household_changes,
    household_for_page,
    village_households,
)
from minqing.households.selectors.shown import (
    HOUSEHOLD_TEXT_FIELDS,
    RESIDENT_TEXT_FIELDS,
    HouseholdShown,
    shown_birth_year,
)

__all__ = [
    "EXTRA_FIELDS",
    "HOUSEHOLD_TEXT_FIELDS",
    "ISSUE_LIMIT",
    "ISSUE_NUMBER",
    "RESIDENT_TEXT_FIELDS",
    "SEARCH_LIMIT",
    "Conflict",
    "HouseholdShown",
    "IssueSearch",
    "SearchResults",
    "archive_conflicts",
    "changes_since",
    "household_changes",
    "household_for_page",
    "member_conflicts",
    "prefix_q",
    "query_is_private",
    "register_issue_search",
    "search",
    "search_issues",
    "search_numbered",
    "shown_birth_year",
    "stale_conflicts",
    "village_households",
]
