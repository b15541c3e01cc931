"""One problem, many households: three households report the same
broken irrigation line in different words and end up as one issue with three reporters —
one attaches at registration because the similar issue is shown, one registered apart is
merged by the town dispatcher — and every reporter gets a reply when it is resolved."""

from __future__ import annotations

import re

from django.urls import reverse

from minqing.households.services import household_create
from minqing.issues.models import Issue, IssueReporter, Status
from minqing.issues.services import (
    issue_accept,
    issue_dispatch,
    issue_register,
    issue_resolve,
)
from minqing.issues.similarity import similar_to_issue

WORDS = [
    "村东头的灌溉水渠破了，水流不到地里",
    "东边那条水渠漏水，浇不了地",
    "灌溉渠坏了好几天了，庄稼缺水",
]
OTHER_PROBLEMS = [
    "村口路灯坏了，晚上看不见路",
    "二组到镇上的路有个大坑",
    "低保申请材料不知道交到哪里",
    "邻居家的狗晚上一直叫",
    "家里电压不稳，灯一闪一闪的",
]


def test_three_households_same_irrigation_line_become_one_issue_with_three_reporters(
    client, county, member, owner, town, water, departments, irrigation, clock
):
    builder_data = {"head_name": "王老三", "number": "A003", "address": "王庄村东"}
    third = household_create(by=owner, node=county.grid_a1, data=builder_data)
    for text in OTHER_PROBLEMS:
        issue_register(
            by=member, node=county.grid_a1, category=irrigation, description=text, colour="blue"
        )

    # 1. The first household reports it on a visit.
    first = issue_register(
        by=member,
        node=county.grid_a1,
        household=county.household_a1,
        category=irrigation,
        description=WORDS[0],
        colour="yellow",
    )

    # 2. The village cadre starts registering the second household's words: the page shows the
    #    first issue as alike, and the cadre adds the household to it instead.
    client.force_login(owner)
    form = {"colour": "yellow", "category": irrigation.pk, "description": WORDS[1]}
    check = client.get(
        reverse("issues:similar_check"), {**form, "household": county.household_a2.pk}
    )
    assert check.status_code == 200
    shown = [int(n) for n in re.findall(r'href="/issues/(\d+)/"', check.content.decode())]
    assert shown[0] == first.pk
    attach_url = reverse("issues:attach", kwargs={"pk": first.pk})
    assert f"{attach_url}?household={county.household_a2.pk}" in check.content.decode()
    response = client.post(f"{attach_url}?household={county.household_a2.pk}", {"words": WORDS[1]})
    assert response.status_code == 302
    assert Issue.objects.filter(status__in=["registered"]).count() == 1 + len(OTHER_PROBLEMS)

    # 3. Someone else registers the third household's words as a new issue; the town
    #    dispatcher sees it is alike and merges it.
    duplicate = issue_register(
        by=owner,
        node=county.grid_a1,
        household=third,
        category=irrigation,
        description=WORDS[2],
        colour="blue",
    )
    alike = similar_to_issue(duplicate)
    assert alike[0].issue_id == first.pk and alike[0].same_village
    assert {s.issue_id for s in alike} <= {first.pk} | set(
        Issue.objects.filter(description__in=WORDS).values_list("pk", flat=True)
    )
    # On the duplicate's page the alike issues load after the page (htmx) with a merge button.
    client.force_login(town)
    page = client.get(reverse("issues:detail", kwargs={"pk": duplicate.pk})).content.decode()
    alike_url = reverse("issues:alike", kwargs={"pk": duplicate.pk})
    assert f'hx-get="{alike_url}"' in page and "Same problem" not in page
    section = client.get(alike_url).content.decode()
    assert f"Same problem: merge into #{first.pk}" in section
    inline = client.get(reverse("issues:detail", kwargs={"pk": duplicate.pk}) + "?alike=1")
    assert f"Same problem: merge into #{first.pk}" in inline.content.decode()  # without script
    merge_url = reverse("issues:act", kwargs={"pk": duplicate.pk, "action": "merge"})
    assert f'action="{merge_url}"' in section
    assert client.post(merge_url, {"target": first.pk}).status_code == 302

    first.refresh_from_db()
    duplicate.refresh_from_db()
    assert duplicate.status == Status.MERGED and duplicate.merged_into == first
    reporters = list(first.reporters.order_by("id").values_list("household__head_name", "words"))
    assert reporters == [("王建国", ""), ("王秀英", WORDS[1]), ("王老三", "")]
    assert similar_to_issue(first) == []  # the merged one no longer competes

    # Resolving needs a reply to each of the three households.
    issue_dispatch(by=town, issue=first, to_department=departments.water)
    issue_accept(by=water, issue=first)
    replies = {r.pk: f"已修复，谢谢{r.name}" for r in first.reporters.all()}
    issue_resolve(by=water, issue=first, resolution="更换渠段", replies=replies)
    assert IssueReporter.objects.filter(issue=first, replied_at__isnull=False).count() == 3
