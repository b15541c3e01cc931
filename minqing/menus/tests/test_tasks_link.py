"""The visit diary's "my households" page links the campaign's households still to visit."""

from __future__ import annotations

from django.urls import reverse

from minqing.menus.models import Task
from minqing.menus.services.answers import answers_record
from minqing.menus.tests.test_campaign import _rec


def test_my_households_links_the_open_tasks_and_counts_them(menus, county, client):
    client.force_login(menus.leader)
    tasks_url = reverse("menus:tasks")
    page = client.get(reverse("visits:mine"), secure=True).content.decode()
    assert f'href="{tasks_url}"' in page and "2 households still to visit" in page
    task = Task.objects.get(campaign=menus.campaign, household=county.household_a1)
    answers_record(by=menus.leader, records=[_rec(task, menus.version)])
    page = client.get(reverse("visits:mine"), secure=True).content.decode()
    assert "1 household still to visit" in page


def test_no_link_without_open_tasks(menus, county, client):
    client.force_login(menus.water_staff)
    page = client.get(reverse("visits:mine"), secure=True)
    assert reverse("menus:tasks") not in page.content.decode()
