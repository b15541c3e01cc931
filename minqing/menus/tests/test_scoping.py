"""Every quarterly-menu route answers a user of another county, and the household-level ones a
cadre of another village, 404 exactly like a missing page (SECURITY §7), with nothing written
(households/tests/test_scoping gathers these). Inside the reader's places a refusal says why
(403: test_authoring_pages, test_campaign_pages …)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.menus.models import Response, Task
from minqing.menus.services import backchecks
from minqing.menus.services.answers import answers_record
from minqing.menus.tests.test_campaign import _rec
from minqing.org.models import Level
from minqing.org.services import node_create
from minqing.tests.dbstate import nothing_written

#: The user's own lists, and the service worker (public, no data: accounts/test_deny_by_default).
UNSCOPED = {
    "menus:index",  # lists only what the reader may open; 403 with nothing (test_authoring_pages)
    "menus:checklist_new",
    "menus:checklist_upload",
    "menus:menu_new",
    "menus:tasks",
    "menus:service_worker",
    # the API: the task a record names is checked by the service (tests/test_api)
    "api:menu_answers",
    "api:menu_call",
    "api:menu_tasks",
}


@pytest.fixture
def objects(menus, county):
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    [saved] = answers_record(by=menus.leader, records=[_rec(task, menus.version)])
    check = backchecks.backcheck_draw(
        by=menus.organiser, campaign=menus.campaign, town=county.town_a, size=1, seed=1
    )
    c, m, v = menus.campaign, menus.menu, menus.version
    checklist = menus.water.checklists.first()
    return {
        "menus:checklist": {"pk": checklist.pk},
        "menus:checklist_xlsform": {"pk": checklist.pk},
        "menus:menu": {"pk": m.pk},
        "menus:version": {"menu_pk": m.pk, "number": v.number},
        "menus:version_next": {"menu_pk": m.pk, "number": v.number},
        "menus:version_xlsform": {"menu_pk": m.pk, "number": v.number},
        "menus:version_paper": {"menu_pk": m.pk, "number": v.number},
        "menus:paper_entry": {"pk": c.pk},
        "menus:paper_form": {"pk": c.pk},
        "menus:campaigns": {"node_pk": county.county.pk},
        "menus:campaign": {"pk": c.pk},
        "menus:campaign_close": {"pk": c.pk},
        "menus:campaign_tasks": {"pk": c.pk, "node_pk": county.village_a.pk},
        "menus:campaign_quality": {"pk": c.pk},
        "menus:backchecks": {"pk": c.pk, "node_pk": county.town_a.pk},
        "menus:backcheck": {"pk": check.pk},
        "menus:results": {"pk": c.pk},
        "menus:results_xlsx": {"pk": c.pk},
        "menus:response": {"pk": Response.objects.get(pk=saved.response_id).pk},
        "menus:task": {"pk": Task.objects.get(campaign=c, household=county.household_a2).pk},
    }


#: Filled from the fixture's keys (the route test below checks they are all there).
ROUTE_NAMES = {
    "menus:checklist",
    "menus:checklist_xlsform",
    "menus:menu",
    "menus:version",
    "menus:version_next",
    "menus:version_xlsform",
    "menus:version_paper",
    "menus:paper_entry",
    "menus:paper_form",
    "menus:campaigns",
    "menus:campaign",
    "menus:campaign_close",
    "menus:campaign_tasks",
    "menus:campaign_quality",
    "menus:backchecks",
    "menus:backcheck",
    "menus:results",
    "menus:results_xlsx",
    "menus:response",
    "menus:task",
}
#: Routes about one household or village: a cadre of the next village is refused too.
VILLAGE_LEVEL = {"menus:campaign_tasks", "menus:response", "menus:task"}


def _query(name, menus, county):
    if name in ("menus:version_paper", "menus:version_xlsform", "menus:paper_form"):
        return "?version=rural"
    if name in ("menus:results", "menus:results_xlsx"):
        return f"?department={menus.water.pk}"
    if name in ("menus:campaign", "menus:campaign_quality"):
        return f"?node={county.village_a.pk}"
    return ""


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_countys_command_centre_is_refused_everywhere(
    client, menus, county, objects, method
):
    assert set(objects) == ROUTE_NAMES
    elsewhere = node_create(name="利辛县", level=Level.COUNTY, code="341623")
    client.force_login(make_user("far", Role.COMMAND_CENTRE, elsewhere))
    wrong = []
    for name, kwargs in sorted(objects.items()):
        url = reverse(name, kwargs=kwargs) + _query(name, menus, county)
        with nothing_written():
            answer = getattr(client, method)(url, secure=True)
        if answer.status_code not in (404, 405):
            wrong.append((name, answer.status_code))
    assert wrong == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_cadre_of_the_next_village_is_refused_the_households_of_this_one(
    client, menus, county, objects, outsider, method
):
    client.force_login(outsider)
    wrong = []
    for name in sorted(VILLAGE_LEVEL):
        url = reverse(name, kwargs=objects[name]) + _query(name, menus, county)
        with nothing_written():
            answer = getattr(client, method)(url, secure=True)
        if answer.status_code not in (404, 405):
            wrong.append((name, answer.status_code))
    assert wrong == []
