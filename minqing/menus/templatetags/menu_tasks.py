"""What the quarterly menu adds to the pages of the apps below it, which import none of it:
``{% menu_tasks_link %}`` on "my households" — the campaign's households still to visit, linked
to the tasks (走访任务) — and ``{% menu_answers issue %}`` on an issue's page: the menu answers
that raised it or joined it, each linked to the household's answers where the reader may read
them."""

from typing import Any

from django import template

from minqing.menus.models import RaisedIssue
from minqing.menus.permissions import MenuAction, allowed
from minqing.menus.selectors.phone import open_task_count

register = template.Library()


@register.inclusion_tag("menus/_tasks_link.html", takes_context=True)
def menu_tasks_link(context: template.Context) -> dict[str, Any]:
    user = getattr(context.get("request"), "user", None)
    count = open_task_count(user) if user is not None and user.is_authenticated else 0
    return {"count": count}


#: the answers listed on an issue's page (a village's shared issue may gather hundreds)
ANSWERS_SHOWN = 20


@register.inclusion_tag("menus/_issue_answers.html", takes_context=True)
def menu_answers(context: template.Context, issue: Any) -> dict[str, Any]:
    user = getattr(context.get("request"), "user", None)
    raised = (
        RaisedIssue.objects.filter(issue=issue)
        .select_related("response__task__household", "response__task__village", "campaign")
        .prefetch_related("question__departments")
        .order_by("pk")
    )
    rows = []
    total = 0
    for r in raised[:ANSWERS_SHOWN]:
        task = r.response.task
        # as the answers page decides: the place's people, or the staff of a department that
        # owns the question
        readable = user is not None and (
            allowed(user, MenuAction.SEE_PROGRESS, task.village)
            or any(allowed(user, MenuAction.SEE_RESULTS, d) for d in r.question.departments.all())
        )
        rows.append({"raised": r, "household": task.household, "readable": readable})
    if rows:
        total = raised.count() if len(rows) == ANSWERS_SHOWN else len(rows)
    return {"rows": rows, "total": total, "more": total - len(rows)}
