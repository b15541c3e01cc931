"""The top search finds issues by number (426, #426, ＃426) and by their words, beside
households and places, within what the reader may see."""

from __future__ import annotations

import re

from django.urls import reverse

from minqing.issues.services import issue_dispatch


def _issue_ids(html: str) -> list[int]:
    return sorted(int(n) for n in re.findall(r'class="issue-title">#(\d+) ', html))


def _search(client, q: str):
    """As the search form does: POST, and follow the redirect a search for words gets."""
    response = client.post(reverse("households:search"), {"q": q}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_issue_number_finds_the_issue_only_for_who_may_see_it(
    client, county, owner, outsider, register, clock
):
    issue = register()
    other = register(description="二组的路灯不亮")
    client.force_login(owner)
    for q in (str(issue.pk), f"#{issue.pk}", f"＃{issue.pk}", f"# {issue.pk}"):
        assert _issue_ids(_search(client, q)) == [issue.pk], q
    assert other.pk != issue.pk
    client.force_login(outsider)
    for q in (str(issue.pk), f"#{issue.pk}", f"＃{issue.pk}"):
        page = _search(client, q)
        assert _issue_ids(page) == [] and "Nothing found in your area." in page


def test_issue_words_find_visible_issues_beside_households(
    client, county, owner, outsider, register, clock
):
    channel = register(description="村东头的灌溉水渠破了，水流不到地里")
    lamp = register(description="二组的路灯不亮")
    client.force_login(owner)
    assert _issue_ids(_search(client, "水渠")) == [channel.pk]
    assert _issue_ids(_search(client, "路灯 不亮")) == [lamp.pk]
    page = _search(client, "王")  # households by name; no issue says 王
    assert "王建国" in page and _issue_ids(page) == []
    client.force_login(outsider)
    assert _issue_ids(_search(client, "水渠")) == []


def test_a_department_finds_the_issues_sent_to_it(
    client, county, town, water, departments, register, clock
):
    sent = register(description="村东头的灌溉水渠破了")
    kept = register(description="二组的水渠也漏了")
    issue_dispatch(by=town, issue=sent, to_department=departments.water)
    client.force_login(water)
    assert _issue_ids(_search(client, "水渠")) == [sent.pk]
    assert _issue_ids(_search(client, f"#{kept.pk}")) == []
    assert _issue_ids(_search(client, f"#{sent.pk}")) == [sent.pk]


def test_odd_queries_answer_without_error(client, county, owner, register, clock):
    register()
    client.force_login(owner)
    for q in ("#", "＃", "#abc", "#99999999999999", "%", "_", "' OR 1=1 --", "#0"):
        _search(client, q)


def test_words_are_looked_for_among_the_newest_issues_only(
    client, county, owner, register, clock, monkeypatch
):
    from minqing.households.selectors import find

    old = register(description="去年的水渠漏水")
    newer = [register(description=f"路灯不亮第{i}处") for i in range(2)]
    monkeypatch.setattr(find, "ISSUE_WORDS_WINDOW", 2)
    client.force_login(owner)
    assert _issue_ids(_search(client, "水渠")) == []  # older than the newest two
    assert _issue_ids(_search(client, f"#{old.pk}")) == [old.pk]  # its number still finds it
    assert sorted(_issue_ids(_search(client, "路灯"))) == sorted(n.pk for n in newer)
    monkeypatch.setattr(find, "ISSUE_WORDS_WINDOW", 5000)  # fewer issues than the window
    assert _issue_ids(_search(client, "水渠")) == [old.pk]
