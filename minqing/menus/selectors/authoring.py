"""What the authoring and paper-entry pages read: the user's county, its menus and the
checklists of the user's departments, a version's skip logic for logic.js, and the tasks a
clerk may type paper forms in for."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from minqing.accounts.scope import scope_for
from minqing.menus import logic
from minqing.menus.models import Campaign, Checklist, Menu, MenuVersion, Task
from minqing.menus.permissions import COMPOSE_ROLES, ENTRY_ROLES
from minqing.menus.spec import FormSpec
from minqing.org.models import Department, Level, Node


def user_county(user: Any) -> Node | None:
    """The county the user works in: the county on the path of their first node role, else the
    county of their first department."""
    for path, dept_county in user.roles.order_by("pk").values_list(
        "node__path", "department__county_id"
    ):
        if path:
            county = Node.objects.county_on_path(path)
            if county is not None:
                return county
        if dept_county:
            return Node.objects.filter(pk=dept_county, level=Level.COUNTY).first()
    return None


def county_menus(county: Node) -> list[Menu]:
    """The county's menus, newest quarter first, with their versions and campaigns counted."""
    menus: list[Menu] = list(
        Menu.objects.filter(county=county)
        .annotate(campaign_count=Count("campaigns"))
        .prefetch_related("versions")
        .order_by("-year", "-quarter")
    )
    return menus


def department_checklists(departments: list[Department]) -> QuerySet[Checklist]:
    return (
        Checklist.objects.filter(department__in=departments)
        .select_related("department")
        .annotate(question_count=Count("questions"))
        .order_by("department__name", "-updated_at", "-pk")
    )


def submitted_checklists(county: Node) -> QuerySet[Checklist]:
    return (
        Checklist.objects.filter(county=county, state="submitted")
        .select_related("department")
        .prefetch_related("questions")
        .order_by("department__name", "pk")
    )


def draft_version(menu: Menu) -> MenuVersion | None:
    return menu.versions.filter(state="draft").first()


def form_logic(form: FormSpec) -> list[dict[str, Any]]:
    """Each question's name, type and ``relevant`` as logic.js trees (None: always asked), for
    ``json_script``. A published form's expressions parse (``check_form`` accepted them)."""
    out = []
    for q in form.questions:
        tree = logic.to_json(logic.parse(q.relevant)) if q.relevant.strip() else None
        out.append({"name": q.name, "type": str(q.type), "relevant": tree})
    return out


# --------------------------------------------------------------------------- paper entry


def entry_paths(user: Any) -> tuple[str, ...]:
    """The subtrees where ``user`` may type paper forms in (permissions: ANSWER over a task's
    household for the entry roles and the command centre)."""
    return scope_for(user).paths_for(ENTRY_ROLES | COMPOSE_ROLES)


def may_enter(user: Any, campaign: Campaign) -> bool:
    """Does the clerk's place meet the campaign's scope (either inside the other)?"""
    return any(
        p.startswith(campaign.scope_path) or campaign.scope_path.startswith(p)
        for p in entry_paths(user)
    )


def may_print(user: Any, campaign: Campaign) -> bool:
    """The campaign's paper form is for the people who take it to the doors or type it in: the
    clerks of a place in its scope (``may_enter``) and the campaign's own visitors."""
    return (
        may_enter(user, campaign)
        or Task.objects.filter(campaign=campaign, assignee_id=user.pk).exists()
    )


def entry_tasks(user: Any, campaign: Campaign) -> QuerySet[Task]:
    """The campaign's tasks in the clerk's place (the visitor's own tasks too)."""
    scope = scope_for(user)
    where = scope.node_q("node_path", roles=ENTRY_ROLES | COMPOSE_ROLES) | Q(assignee=user)
    return (
        Task.objects.filter(campaign=campaign)
        .filter(where)
        .select_related("household", "village", "assignee")
        .order_by("node_path", "household__number", "pk")
    )


def find_tasks(user: Any, campaign: Campaign, query: str, limit: int = 20) -> list[Task]:
    """Open tasks whose household number or head's name matches ``query``."""
    text = query.strip()
    if not text:
        return []
    qs = entry_tasks(user, campaign).filter(outcome="")
    exact = list(qs.filter(household__number=text)[:limit])
    if exact:
        return exact
    return list(
        qs.filter(Q(household__number__icontains=text) | Q(household__head_name__icontains=text))[
            :limit
        ]
    )


def next_open_task(user: Any, campaign: Campaign, after: Task | None = None) -> Task | None:
    """The next household still waiting for its answers (after ``after`` in the list order)."""
    qs = entry_tasks(user, campaign).filter(outcome="")
    if after is not None:
        later = [
            t
            for t in qs.filter(node_path__gte=after.node_path)
            if (t.node_path, t.household.number, t.pk)
            > (after.node_path, after.household.number, after.pk)
        ]
        if later:
            return later[0]
    return qs.first()


def visitors_for(task: Task) -> list[Any]:
    """Who may have gone to the household: its assigned visitor, then the people of the entry
    roles over it (a cadre or grid worker may have gone instead; the service accepts them)."""
    from minqing.accounts.models import User

    people: list[Any] = []
    if task.assignee_id:
        people.append(task.assignee)
    ancestors = [int(x) for x in task.node_path.strip("/").split("/") if x]
    others = (
        User.objects.filter(
            is_active=True,
            roles__node_id__in=ancestors,
            roles__role__in=list(ENTRY_ROLES),
        )
        .exclude(pk=task.assignee_id or 0)
        .distinct()
        .order_by("full_name", "pk")
    )
    people.extend(others)
    return people
