"""Fixtures of the quarterly menu: three departments, their checklists, a published menu and a
campaign over the test county (minqing/conftest.py), with a group leader for village A."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine

from minqing.accounts.models import Role, User
from minqing.conftest import make_user
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.issues.models import Category
from minqing.menus.models import Campaign, Checklist, Menu, MenuVersion
from minqing.menus.services import authoring, campaigns
from minqing.menus.services.authoring import IssueRule
from minqing.menus.spec import FIXED_CHOICES, Choice, QType, QuestionSpec
from minqing.org.models import Department

#: Monday 2027-02-22 10:00 in Shanghai: inside the seed's window (2/20–3/5).
NOW = dt.datetime(2027, 2, 22, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(autouse=True)
def _fresh_forms():
    """Published versions are compiled once per process; a rolled-back test reuses their ids."""
    from minqing.menus.services.answers import forget_compiled

    forget_compiled()
    yield
    forget_compiled()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def yes_no(name: str, label: str, **kw) -> QuestionSpec:
    return QuestionSpec(name, QType.YES_NO, label, choices=list(FIXED_CHOICES[QType.YES_NO]), **kw)


@dataclass
class Setup:
    water: Department
    health: Department
    civil: Department
    organiser: User
    water_staff: User
    leader: User
    leader_b: User
    menu: Menu
    version: MenuVersion
    campaign: Campaign


def _checklists(by: User, water: Department, health: Department, civil: Department):
    w = authoring.checklist_save(
        by=by,
        department=water,
        title="水利局清单",
        questions=[
            yes_no("water_ok", "饮水是否正常？", theme="民生保障"),
            QuestionSpec(
                "well_depth",
                QType.INTEGER,
                "水井深度（米）",
                theme="民生保障",
                applies="rural",
                constraint=". >= 0 and . <= 300",
                constraint_message_zh="请填0到300之间的数",
            ),
        ],
    )
    h = authoring.checklist_save(
        by=by,
        department=health,
        title="卫健委清单",
        questions=[
            yes_no("insured", "是否参加医保？", theme="民生保障"),
            QuestionSpec(
                "health",
                QType.GOOD_FAIR_BAD,
                "家人身体状况",
                theme="健康",
                choices=list(FIXED_CHOICES[QType.GOOD_FAIR_BAD]),
            ),
            yes_no("drinking_ok", "饮水是否正常", theme="民生保障"),
        ],
    )
    c = authoring.checklist_save(
        by=by,
        department=civil,
        title="民政局清单",
        questions=[
            QuestionSpec(
                "needs",
                QType.SELECT_MULTIPLE,
                "需要哪些帮助？",
                theme="民生保障",
                required=False,
                choices=[
                    Choice("medical", "医疗"),
                    Choice("school", "上学"),
                    Choice("job", "就业"),
                ],
            ),
            QuestionSpec(
                "needs_note",
                QType.TEXT,
                "请说明",
                theme="民生保障",
                relevant="selected(${needs}, 'medical')",
            ),
        ],
    )
    return w, h, c


@pytest.fixture
def menus(county, clock) -> Setup:
    mk = Department.objects.create
    water = mk(county=county.county, name="区水利局", code="water")
    health = mk(county=county.county, name="区卫健委", code="health")
    civil = mk(county=county.county, name="区民政局", code="civil")
    organiser = make_user("organiser", Role.COMMAND_CENTRE, county.county)
    water_staff = make_user("water_staff", Role.DEPARTMENT, department=water)
    w, h, c = _checklists(organiser, water, health, civil)
    for checklist in (w, h, c):
        authoring.checklist_submit(by=organiser, checklist=checklist)
    menu = authoring.menu_create(
        by=organiser,
        county=county.county,
        year=2027,
        quarter=1,
        greeting="您好，我是村里的组长，来了解一下家里的情况。",
    )
    version = menu.versions.get()
    proposals = authoring.duplicate_proposals(Checklist.objects.filter(pk__in=[w.pk, h.pk, c.pk]))
    groups = [list(p.question_ids) for p in proposals]
    authoring.menu_merge(by=organiser, version=version, checklists=[w, h, c], groups=groups)
    water_q = version.questions.get(name="water_ok")
    authoring.version_question_save(
        by=organiser,
        version=version,
        question=water_q,
        spec=water_q.to_spec(),
        departments=list(water_q.departments.all()),
        rule=IssueRule(
            on=["no"],
            category=Category.objects.get(code="drinking_water"),
            department=water,
            colour="yellow",
        ),
    )
    authoring.version_approve(by=organiser, version=version)
    authoring.version_publish(by=organiser, version=version)
    leader = make_user("leader_a", Role.GROUP_LEADER, county.village_a)
    leader_b = make_user("leader_b", Role.GROUP_LEADER, county.village_b)
    for user, grid, households in (
        (leader, county.grid_a1, [county.household_a1, county.household_a2]),
        (leader_b, county.grid_b1, [county.household_b1]),
    ):
        liaison = liaison_add(
            by=organiser,
            node=grid,
            kind=LiaisonKind.GROUP_LEADER,
            user=user,
            name=user.username,
            phone="13800000000",
        )
        for hh in households:
            link_set(by=organiser, household=hh, liaison=liaison)
    version.refresh_from_db()
    campaign = campaigns.campaign_start(
        by=organiser,
        version=version,
        scope=county.county,
        starts_on=dt.date(2027, 2, 20),
        ends_on=dt.date(2027, 3, 5),
    )
    return Setup(
        water, health, civil, organiser, water_staff, leader, leader_b, menu, version, campaign
    )
