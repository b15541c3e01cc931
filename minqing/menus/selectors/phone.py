"""What the visitor's phone reads: the tasks in my care of the open campaigns, and one task's
form (the household's version of the menu, urban or rural, as JSON for the page's script)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import translation

from minqing.menus import logic
from minqing.menus.models import CampaignState, MenuVersion, Task
from minqing.menus.services.answers import version_questions
from minqing.menus.spec import Applies


@dataclass
class TaskRow:
    id: int
    campaign_id: int
    campaign: str
    household_id: int
    number: str
    head_name: str  # as "my households" shows it: no ID number, no phone, nothing revealed
    grid: str
    kind: str  # urban / rural: the version of the menu the household is asked
    version_id: int
    outcome: str
    outcome_label: str
    call_attempts: int
    call_limit: int

    @property
    def done(self) -> bool:
        return bool(self.outcome)


@dataclass
class CampaignTasks:
    id: int
    title: str
    ends_on: Any
    rows: list[TaskRow]

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r.done)

    @property
    def total(self) -> int:
        return len(self.rows)


def open_tasks(user: Any) -> list[TaskRow]:
    """My tasks (I am the visitor) of the open campaigns: not done first, then by place."""
    qs = (
        Task.objects.filter(assignee=user, campaign__state=CampaignState.OPEN)
        .select_related("campaign", "household", "household__node")
        .order_by("campaign__starts_on", "campaign_id", "node_path", "household__number", "pk")
    )
    rows = [
        TaskRow(
            id=t.pk,
            campaign_id=t.campaign_id,
            campaign=t.campaign.title,
            household_id=t.household_id,
            number=t.household.number,
            head_name=str(t.household.head_name),
            grid=t.household.node.name,
            kind=t.place_kind,
            version_id=t.campaign.version_id,
            outcome=t.outcome,
            outcome_label=str(t.get_outcome_display()) if t.outcome else "",
            call_attempts=t.call_attempts,
            call_limit=t.campaign.call_limit,
        )
        for t in qs
    ]
    return sorted(rows, key=lambda r: r.done)  # stable: the place order stays within each


def open_task_count(user: Any) -> int:
    """The households still to visit in the open campaigns (the "my households" page's link)."""
    return Task.objects.filter(
        assignee=user, campaign__state=CampaignState.OPEN, outcome=""
    ).count()


def has_open_tasks(user: Any) -> bool:
    """For a link to the tasks (the visits' "my households" page)."""
    return Task.objects.filter(
        assignee=user, campaign__state=CampaignState.OPEN, outcome=""
    ).exists()


def by_campaign(rows: list[TaskRow]) -> list[CampaignTasks]:
    out: dict[int, CampaignTasks] = {}
    for r in rows:
        group = out.get(r.campaign_id)
        if group is None:
            group = out[r.campaign_id] = CampaignTasks(r.campaign_id, r.campaign, None, [])
        group.rows.append(r)
    return list(out.values())


def _tree(text: str, *, allow_dot: bool = False) -> object:
    return logic.to_json(logic.parse(text, allow_dot=allow_dot)) if text.strip() else None


def version_json(version: MenuVersion, kind: str) -> dict[str, Any]:
    """The version's questions a household of ``kind`` is asked, by theme, for the form's
    script: labels in the page's language, skip logic and constraints as JSON trees of
    ``logic.to_json`` (evaluated by static/menus/logic.js)."""
    zh = (translation.get_language() or "zh-hans").startswith("zh")
    questions = [q for q in version_questions(version) if q.applies in (Applies.BOTH.value, kind)]

    def pick(zh_text: str, en_text: str) -> str:
        return (zh_text or en_text) if zh else (en_text or zh_text)

    themes: list[str] = [t for t in version.themes if any(q.theme == t for q in questions)]
    for q in questions:
        if q.theme not in themes:
            themes.append(q.theme)
    return {
        "version": version.pk,
        "number": version.number,
        "kind": kind,
        "greeting": version.greeting,
        "themes": [
            {
                "title": theme,
                "questions": [
                    {
                        "name": q.name,
                        "type": q.qtype,
                        "label": pick(q.label_zh, q.label_en),
                        "hint": pick(q.hint_zh, q.hint_en),
                        "note": q.visitor_note,
                        "required": q.required,
                        "relevant": _tree(q.relevant),
                        "constraint": _tree(q.constraint, allow_dot=True),
                        "message": pick(q.constraint_message_zh, q.constraint_message_en),
                        "choices": [
                            [c[0], pick(c[1], c[2] if len(c) > 2 else "")] for c in q.choices
                        ],
                    }
                    for q in questions
                    if q.theme == theme
                ],
            }
            for theme in themes
        ],
    }
