"""What the quarterly menu adds to the visit diary's pages, which sit below it and import none
of it: ``{% menu_tasks_link %}`` on "my households" — the campaign's households still to visit,
linked to the tasks (走访任务)."""

from typing import Any

from django import template

from minqing.menus.selectors.phone import open_task_count

register = template.Library()


@register.inclusion_tag("menus/_tasks_link.html", takes_context=True)
def menu_tasks_link(context: template.Context) -> dict[str, Any]:
    user = getattr(context.get("request"), "user", None)
    count = open_task_count(user) if user is not None and user.is_authenticated else 0
    return {"count": count}
