"""A campaign end to end through the services: the merged menu, tasks from the contact
network, answers (replays, conflicts, refusals), the issue an answer raises, the counters."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from minqing.issues.models import Issue, Status
from minqing.menus.models import Progress, Response, Tally, Task
from minqing.menus.services import authoring, campaigns
from minqing.menus.services.answers import (
    AnswerInput,
    CallInput,
    answers_record,
    call_record,
)
from minqing.menus.services.answers import (
    Status as S,
)
from minqing.tests.dbstate import nothing_written


def _answers(**kw):
    base = {"water_ok": "yes", "insured": "yes", "health": "good", "well_depth": 20}
    return base | kw


def _rec(task, version, **kw):
    now = timezone.now()
    base = dict(
        client_uuid=uuid.uuid4(),
        task_id=task.pk,
        version_id=version.pk,
        outcome="home",
        finished_at=now - dt.timedelta(minutes=1),
        started_at=now - dt.timedelta(minutes=6),
        answers=_answers(),
    )
    return AnswerInput(**(base | kw))


def test_the_merged_menu_keeps_each_questions_departments(menus):
    names = list(menus.version.questions.values_list("name", flat=True))
    # 饮水是否正常 asked by water and health became one question owned by both
    assert names.count("water_ok") == 1 and "drinking_ok" not in names
    water_ok = menus.version.questions.get(name="water_ok")
    assert sorted(d.code for d in water_ok.departments.all()) == ["health", "water"]
    assert menus.version.themes == ["民生保障", "健康"]


def test_questions_asked_alike_about_different_things_are_not_proposed(menus):
    """The frame (家里…是否正常？) is not what a question is about: water is not power, but the
    two insurance questions are one."""
    from minqing.menus.models import Checklist
    from minqing.menus.spec import FIXED_CHOICES, QType, QuestionSpec

    def yn(name, label):
        return QuestionSpec(name, QType.YES_NO, label, choices=list(FIXED_CHOICES[QType.YES_NO]))

    water = authoring.checklist_save(
        by=menus.organiser,
        department=menus.water,
        title="水",
        questions=[
            yn("water_ok", "家里饮水是否正常？"),
            yn("insured", "全家是否都参加了城乡居民医保？"),
        ],
    )
    power = authoring.checklist_save(
        by=menus.organiser,
        department=menus.health,
        title="电",
        questions=[yn("power_ok", "家里用电是否正常？"), yn("insured2", "家人是否都参加了医保？")],
    )
    proposals = authoring.duplicate_proposals(Checklist.objects.filter(pk__in=[water.pk, power.pk]))
    named = [
        sorted(
            water.questions.model.objects.filter(pk__in=p.question_ids).values_list(
                "name", flat=True
            )
        )
        for p in proposals
    ]
    assert named == [["insured", "insured2"]]


def test_tasks_go_to_the_households_liaisons_and_nobody_is_skipped(menus, county):
    tasks = {t.household_id: t for t in Task.objects.filter(campaign=menus.campaign)}
    assert set(tasks) == {county.household_a1.pk, county.household_a2.pk, county.household_b1.pk}
    assert tasks[county.household_a1.pk].assignee == menus.leader
    assert tasks[county.household_b1.pk].assignee == menus.leader_b
    total = Progress.objects.get(campaign=menus.campaign, node=county.county)
    assert (total.total, total.unassigned, total.done) == (3, 0, 0)


def test_a_no_raises_an_issue_in_the_water_departments_queue_and_counts(menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    [result] = answers_record(
        by=menus.leader, records=[_rec(task, menus.version, answers=_answers(water_ok="no"))]
    )
    assert result.status == S.SAVED, result.errors
    [issue] = Issue.objects.filter(pk__in=result.issue_ids)
    assert (issue.owner_department, issue.status, issue.colour, issue.category.code) == (
        menus.water,
        Status.DISPATCHED,
        "yellow",
        "drinking_water",
    )
    assert issue.reporters.get().household == county.household_a1
    for node, done, issues in (
        (county.county, 1, 1),
        (county.village_a, 1, 1),
        (county.village_b, 0, 0),
    ):
        p = Progress.objects.get(campaign=menus.campaign, node=node)
        assert (p.home, p.done, p.issues) == (done, done, issues)
    water_ok = menus.version.questions.get(name="water_ok")
    assert Tally.objects.get(question=water_ok, village=county.village_a, choice="no").count == 1


def test_tallies_add_up_across_syncs_and_sum_the_numbers(menus, county):
    """One upsert a batch: a cell made by the first sync is added to by the second."""
    t1 = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    t2 = Task.objects.get(campaign=menus.campaign, household=county.household_a2)
    assert t1.place_kind == t2.place_kind == "rural"
    answers_record(by=menus.leader, records=[_rec(t1, menus.version, answers=_answers())])
    answers_record(
        by=menus.leader,
        records=[_rec(t2, menus.version, answers=_answers(well_depth=35, health="bad"))],
    )
    q = {x.name: x for x in menus.version.questions.all()}

    def cell(name, choice):
        t = Tally.objects.get(question=q[name], village=county.village_a, choice=choice)
        return t.count, t.total

    assert cell("well_depth", "") == (2, 55)
    assert cell("water_ok", "yes") == (2, 0)
    assert (cell("health", "good"), cell("health", "bad")) == ((1, 0), (1, 0))
    assert not Tally.objects.filter(village=county.village_b).exists()


def test_a_leader_raises_the_issue_of_a_household_of_the_next_grid(menus, county):
    """The leader of 一组 looks after a household of 二组: its "否" still raises the issue
    (the task says who answers for it, not the leader's grid)."""
    from minqing.accounts.models import RoleAssignment, User

    RoleAssignment.objects.filter(user=menus.leader).update(node=county.grid_a1)
    leader = User.objects.get(pk=menus.leader.pk)
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a2)
    assert task.assignee_id == leader.pk
    [result] = answers_record(
        by=leader, records=[_rec(task, menus.version, answers=_answers(water_ok="no"))]
    )
    assert result.status == S.SAVED, result.errors
    [issue] = Issue.objects.filter(pk__in=result.issue_ids)
    assert (issue.node, issue.household) == (county.grid_a2, county.household_a2)


def test_a_second_household_of_the_village_joins_the_issue(menus, county):
    t1 = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    t2 = Task.objects.get(campaign=menus.campaign, household=county.household_a2)
    answers_record(
        by=menus.leader, records=[_rec(t1, menus.version, answers=_answers(water_ok="no"))]
    )
    [r2] = answers_record(
        by=menus.leader, records=[_rec(t2, menus.version, answers=_answers(water_ok="no"))]
    )
    issue = Issue.objects.get()
    assert r2.issue_ids == [issue.pk]
    assert sorted(r.household_id for r in issue.reporters.all()) == sorted(
        [county.household_a1.pk, county.household_a2.pk]
    )
    assert Progress.objects.get(campaign=menus.campaign, node=county.village_a).issues == 1


def test_a_replay_changes_nothing_and_another_record_under_the_id_conflicts(menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    record = _rec(task, menus.version)
    assert answers_record(by=menus.leader, records=[record])[0].status == S.SAVED
    with nothing_written():
        assert answers_record(by=menus.leader, records=[record])[0].status == S.REPLAY
        other = AnswerInput(**(record.__dict__ | {"answers": _answers(health="bad")}))
        assert answers_record(by=menus.leader, records=[other])[0].status == S.CONFLICT
    assert Response.objects.count() == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"answers": _answers(water_ok="maybe")}, "answers.water_ok"),
        ({"answers": _answers(extra="x")}, "answers.extra"),
        ({"answers": _answers(well_depth=400)}, "answers.well_depth"),
        ({"outcome": "not_reached"}, "reason"),
        ({"outcome": "flew"}, "outcome"),
    ],
)
def test_bad_records_are_refused_and_change_nothing(menus, county, change, field):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    with nothing_written():
        [result] = answers_record(by=menus.leader, records=[_rec(task, menus.version, **change)])
    assert result.status == S.REFUSED
    assert field in result.errors


def test_an_urban_household_is_not_asked_the_rural_question(menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    Task.objects.filter(pk=task.pk).update(place_kind="urban")
    [result] = answers_record(by=menus.leader, records=[_rec(task, menus.version)])
    assert result.status == S.REFUSED and "answers.well_depth" in result.errors


def test_a_task_of_another_visitor_is_refused(menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_b1)
    with nothing_written():
        [result] = answers_record(by=menus.leader, records=[_rec(task, menus.version)])
    assert result.status == S.NOT_FOUND


def test_a_rule_for_each_household_raises_one_issue_a_household(menus, county):
    """同村合并 off: a family's own problem is not joined to the neighbour's."""
    from minqing.issues.models import Category
    from minqing.menus.services.answers import forget_compiled

    nxt = authoring.version_next(by=menus.organiser, version=menus.version)
    q = nxt.questions.get(name="water_ok")
    authoring.version_question_save(
        by=menus.organiser,
        version=nxt,
        question=q,
        spec=q.to_spec(),
        departments=list(q.departments.all()),
        rule=authoring.IssueRule(
            on=["no"],
            category=Category.objects.get(code="drinking_water"),
            department=menus.water,
            colour="yellow",
            shared=False,
        ),
    )
    assert nxt.questions.get(name="water_ok").issue_shared is False
    authoring.version_approve(by=menus.organiser, version=nxt)
    authoring.version_publish(by=menus.organiser, version=nxt)
    forget_compiled()
    t1 = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    t2 = Task.objects.get(campaign=menus.campaign, household=county.household_a2)
    [r1, r2] = answers_record(
        by=menus.leader,
        records=[
            _rec(t1, nxt, answers=_answers(water_ok="no")),
            _rec(t2, nxt, answers=_answers(water_ok="no")),
        ],
    )
    assert (r1.status, r2.status) == (S.SAVED, S.SAVED)
    assert len(r1.issue_ids) == len(r2.issue_ids) == 1 and r1.issue_ids != r2.issue_ids
    assert sorted(
        Issue.objects.filter(pk__in=r1.issue_ids + r2.issue_ids).values_list(
            "reporters__household_id", flat=True
        )
    ) == sorted([county.household_a1.pk, county.household_a2.pk])
    assert Progress.objects.get(campaign=menus.campaign, node=county.village_a).issues == 2


def test_answers_to_a_replaced_version_keep_it(menus, county):
    nxt = authoring.version_next(by=menus.organiser, version=menus.version)
    q = nxt.questions.get(name="health")
    spec = q.to_spec()
    spec.label_zh = "家人身体怎么样"
    authoring.version_question_save(
        by=menus.organiser,
        version=nxt,
        question=q,
        spec=spec,
        departments=list(q.departments.all()),
    )
    authoring.version_approve(by=menus.organiser, version=nxt)
    authoring.version_publish(by=menus.organiser, version=nxt)
    menus.campaign.refresh_from_db()
    assert menus.campaign.version == nxt
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    [old] = answers_record(by=menus.leader, records=[_rec(task, menus.version)])
    assert old.status == S.SAVED
    assert Response.objects.get(pk=old.response_id).version == menus.version


def test_phone_tries_up_to_the_limit_then_not_reached(menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    at = timezone.now() - dt.timedelta(minutes=30)
    for result in ("no_answer", "busy", "no_answer"):
        r = call_record(by=menus.leader, data=CallInput(uuid.uuid4(), task.pk, at, result))
        assert r.status == S.SAVED
    r = call_record(by=menus.leader, data=CallInput(uuid.uuid4(), task.pk, at, "busy"))
    assert r.status == S.REFUSED
    [done] = answers_record(
        by=menus.leader,
        records=[_rec(task, menus.version, outcome="not_reached", reason="moved_away", answers={})],
    )
    assert done.status == S.SAVED
    p = Progress.objects.get(campaign=menus.campaign, node=county.county)
    assert (p.not_reached, p.done) == (1, 1)


def test_the_rebuild_gives_the_live_counters(menus, county):
    import io

    from django.core.management import CommandError, call_command

    tasks = list(Task.objects.filter(campaign=menus.campaign, assignee=menus.leader))
    records = [_rec(t, menus.version, answers=_answers(water_ok="no")) for t in tasks]
    answers_record(by=menus.leader, records=records)
    assert campaigns.progress_differences(menus.campaign) == {}
    county_row = Progress.objects.get(campaign=menus.campaign, node=county.county)
    assert (county_row.total, county_row.home, county_row.issues) == (3, 2, 1)
    Progress.objects.filter(pk=county_row.pk).update(home=5)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("recount_menus", stdout=out)
    assert f"node {county.county.pk}: home 5→2" in out.getvalue()
    call_command("recount_menus", "--fix", stdout=io.StringIO())
    assert campaigns.progress_differences(menus.campaign) == {}


def test_a_rule_sending_a_blue_issue_to_a_department_is_refused(menus):
    from django.core.exceptions import ValidationError

    from minqing.issues.models import Category
    from minqing.menus.services.authoring import IssueRule

    nxt = authoring.version_next(by=menus.organiser, version=menus.version)
    q = nxt.questions.get(name="water_ok")
    rule = IssueRule(
        on=["no"],
        category=Category.objects.get(code="drinking_water"),
        department=menus.water,
        colour="blue",
    )
    with nothing_written(), pytest.raises(ValidationError) as refused:
        authoring.version_question_save(
            by=menus.organiser,
            version=nxt,
            question=q,
            spec=q.to_spec(),
            departments=[menus.water],
            rule=rule,
        )
    assert list(refused.value.message_dict) == ["rule_department"]


def test_a_published_version_cannot_be_edited(menus):
    from minqing.lib.errors import InvalidTransition

    q = menus.version.questions.get(name="health")
    with nothing_written(), pytest.raises(InvalidTransition):
        authoring.version_question_save(
            by=menus.organiser, version=menus.version, question=q, spec=q.to_spec(), departments=[]
        )


def test_the_water_department_may_not_compose_the_menu(menus, county):
    from minqing.lib.errors import PermissionDenied

    with nothing_written(), pytest.raises(PermissionDenied):
        authoring.menu_create(by=menus.water_staff, county=county.county, year=2027, quarter=2)


def test_a_town_draws_a_back_check_sample_fast_answers_first_and_keeps_the_results(menus, county):
    from django.core.exceptions import ValidationError

    from minqing.accounts.models import Role
    from minqing.conftest import make_user
    from minqing.lib.errors import PermissionDenied
    from minqing.menus.selectors.quality import same_answers, too_fast
    from minqing.menus.services.backchecks import backcheck_draw, backcheck_result

    t1, t2 = Task.objects.filter(campaign=menus.campaign, assignee=menus.leader).order_by("pk")
    now = timezone.now()
    hasty = _rec(t2, menus.version, started_at=now - dt.timedelta(seconds=70))
    answers_record(by=menus.leader, records=[_rec(t1, menus.version), hasty])
    assert too_fast(menus.campaign, county.village_a.path) == 1
    assert [s.households for s in same_answers(menus.campaign, county.county.path, limit=2)] == [2]
    town = make_user("town_a", Role.TOWN_STAFF, county.town_a)
    with nothing_written():
        with pytest.raises(PermissionDenied):
            backcheck_draw(by=menus.leader, campaign=menus.campaign, town=county.town_a, size=1)
    check = backcheck_draw(by=town, campaign=menus.campaign, town=county.town_a, size=1, seed=7)
    [item] = check.items.all()
    assert item.task == t2  # the one answered too fast
    with nothing_written(), pytest.raises(ValidationError):
        backcheck_result(by=town, item=item, result="differs")
    backcheck_result(by=town, item=item, result="differs", note="说没人来过")
    item.refresh_from_db()
    assert (item.result, item.note, item.checked_by) == ("differs", "说没人来过", town)


def test_a_record_sent_twice_in_one_batch_is_answered_twice_and_saved_once(menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    record = _rec(task, menus.version)
    results = answers_record(by=menus.leader, records=[record, record])
    assert [r.status for r in results] == [S.SAVED, S.SAVED]
    assert Response.objects.count() == 1


def test_a_rule_cannot_send_a_blue_issue_or_one_already_dispatched(menus, county):
    from minqing.issues.models import Category
    from minqing.issues.services import IllegalTransition, issue_dispatch_by_rule, issue_register

    category = Category.objects.get(code="drinking_water")
    blue = issue_register(
        by=menus.organiser,
        node=county.grid_a1,
        category=category,
        description="水管漏水",
        colour="blue",
    )
    with nothing_written(), pytest.raises(ValueError):
        issue_dispatch_by_rule(issue=blue, department=menus.water, rule="test")
    yellow = issue_register(
        by=menus.organiser,
        node=county.grid_a1,
        category=category,
        description="自来水浑浊",
        colour="yellow",
    )
    issue_dispatch_by_rule(issue=yellow, department=menus.water, rule="四季菜单：饮水")
    yellow.refresh_from_db()
    assert (yellow.status, yellow.owner_department) == (Status.DISPATCHED, menus.water)
    event = yellow.events.order_by("-pk").first()
    assert (event.actor, event.data["rule"]) == (None, "四季菜单：饮水")
    with nothing_written(), pytest.raises(IllegalTransition):
        issue_dispatch_by_rule(issue=yellow, department=menus.water, rule="again")


def test_the_issue_page_links_the_answer_that_raised_it(client, menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    [result] = answers_record(
        by=menus.leader, records=[_rec(task, menus.version, answers=_answers(water_ok="no"))]
    )
    [issue_id] = result.issue_ids
    client.force_login(menus.water_staff)
    page = client.get(reverse("issues:detail", args=[issue_id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Raised by 1 menu answer" in text
    response_url = reverse("menus:response", args=[result.response_id])
    assert f'href="{response_url}"' in text
    # the link opens for this reader: the department owns the question
    assert client.get(response_url).status_code == 200
    # the group leader who answered it sees the link too (a person of the place)
    client.force_login(menus.leader)
    assert f'href="{response_url}"' in client.get(reverse("issues:detail", args=[issue_id])).text
