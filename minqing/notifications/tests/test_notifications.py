"""Notifications: the service, delivery through channels, the pages and the header badge."""

from __future__ import annotations

import logging
from functools import partial

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minqing.conftest import make_user
from minqing.notifications.channels import Channel
from minqing.notifications.models import Notification
from minqing.notifications.selectors import recent_for, unread_count
from minqing.notifications.services import (
    deliver,
    delivery_batch,
    notification_mark_read,
    notify,
)
from minqing.tests.dbstate import nothing_written

HERE = "minqing.notifications.tests.test_notifications"
SENT: list[tuple[int, str]] = []


class RecordingChannel(Channel):
    def send(self, notification, user):
        SENT.append((notification.pk, user.username))


class BrokenChannel(Channel):
    def send(self, notification, user):
        raise RuntimeError("gateway down")


@pytest.fixture(autouse=True)
def _channels(settings):
    settings.MINQING_REDIS_URL = ""  # deliver in-process after the commit
    settings.MINQING_NOTIFY_CHANNELS = ["minqing.notifications.channels.LogChannel"]
    SENT.clear()


def _note(user, title="Issue 7 dispatched to you", **kwargs):
    return notify(recipients=[user], kind="issue.dispatched", title=title, **kwargs)[0]


def _logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "minqing.notifications"]


# --- notify and deliver -------------------------------------------------------------------


def test_notify_writes_one_row_per_recipient(county, owner, member, outsider):
    rows = notify(
        recipients=[owner, member, owner],
        kind="issue.dispatched",
        title="Issue 7 dispatched to you",
        body="Road repair in 一组",
        link="/issues/7/",
        obj=county.household_a1,
    )
    assert len(rows) == 2
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == [
        "member",
        "owner",
    ]
    assert not Notification.objects.filter(recipient=outsider).exists()
    note = Notification.objects.get(recipient=owner)
    assert (note.kind, note.title, note.body, note.link) == (
        "issue.dispatched",
        "Issue 7 dispatched to you",
        "Road repair in 一组",
        "/issues/7/",
    )
    assert (note.object_type, note.object_id) == (
        "households.household",
        str(county.household_a1.pk),
    )
    assert note.read_at is None


def test_notify_nobody_writes_nothing(db):
    assert notify(recipients=[], kind="x", title="x") == []
    assert Notification.objects.count() == 0


def test_long_title_is_cut_to_fit(owner):
    note = _note(owner, title="长" * 300)
    assert len(note.title) == 200
    assert note.title.endswith("…")


def test_delivery_logs_after_the_commit(owner, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO, logger="minqing.notifications")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _note(owner)
        assert _logged(caplog) == []  # nothing goes out before the commit
    assert len(callbacks) == 1
    assert _logged(caplog) == ["notification issue.dispatched to owner: Issue 7 dispatched to you"]


def test_no_delivery_and_no_row_when_the_transaction_rolls_back(
    owner, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="minqing.notifications")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _note(owner)
            raise RuntimeError("the issue transition failed")
    assert callbacks == []
    assert _logged(caplog) == []
    assert Notification.objects.count() == 0


def test_a_delivery_batch_sends_what_committed_once_at_its_end(
    settings, owner, member, django_capture_on_commit_callbacks
):
    """The deadline sweep commits once per issue: within ``delivery_batch`` the committed
    notifications go out together when the block ends; a rolled-back one never does."""
    settings.MINQING_NOTIFY_CHANNELS = [f"{HERE}.RecordingChannel"]
    commit = partial(django_capture_on_commit_callbacks, execute=True)  # one per "transaction"
    with commit():  # the delivery job the batch queues at its end
        with delivery_batch():
            with commit():
                first = _note(owner)
            with commit(), pytest.raises(RuntimeError), transaction.atomic():
                _note(member, title="rolled back")
                raise RuntimeError("this escalation failed")
            with commit():
                second = _note(member)
            assert SENT == []  # committed, but held for the end of the batch
        assert SENT == []  # queued after the commit of the caller
    assert SENT == [(first.pk, "owner"), (second.pk, "member")]


def test_a_failing_channel_does_not_stop_the_others(settings, owner, member, caplog):
    settings.MINQING_NOTIFY_CHANNELS = [
        f"{HERE}.BrokenChannel",
        "minqing.no_such.Channel",
        "minqing.notifications.channels.LogChannel",
        f"{HERE}.RecordingChannel",
    ]
    caplog.set_level(logging.INFO, logger="minqing.notifications")
    rows = notify(recipients=[owner, member], kind="issue.overdue", title="Issue 7 is overdue")
    ids = [n.pk for n in rows]
    SENT.clear()  # notify ran outside a transaction, so it delivered already
    caplog.clear()

    assert deliver(notification_ids=ids) == {"notifications": 2, "sent": 4, "failed": 2}
    assert sorted(SENT) == sorted([(ids[0], rows[0].recipient.username), (ids[1], "member")])
    failures = [r for r in caplog.records if "channel BrokenChannel failed" in r.getMessage()]
    assert len(failures) == 2 and failures[0].exc_info[0] is RuntimeError
    assert any("minqing.no_such.Channel cannot be loaded" in m for m in _logged(caplog))
    assert Notification.objects.filter(pk__in=ids, read_at__isnull=True).count() == 2


def test_sms_and_wechat_interfaces_say_how_to_plug_in_a_gateway(settings, owner, caplog):
    settings.MINQING_NOTIFY_CHANNELS = [
        "minqing.notifications.channels.SmsChannel",
        "minqing.notifications.channels.WeChatChannel",
    ]
    note = _note(owner)
    caplog.clear()
    assert deliver(notification_ids=[note.pk]) == {"notifications": 1, "sent": 0, "failed": 2}
    errors = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert all(isinstance(e, NotImplementedError) for e in errors)
    assert "subclass it" in str(errors[0])


def test_disabled_users_get_the_in_app_row_only(settings, owner):
    settings.MINQING_NOTIFY_CHANNELS = [f"{HERE}.RecordingChannel"]
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    note = _note(owner)
    assert SENT == []
    assert deliver(notification_ids=[note.pk]) == {"notifications": 0, "sent": 0, "failed": 0}
    assert Notification.objects.filter(recipient=owner).count() == 1


# --- reading and marking read -------------------------------------------------------------


def test_mark_read_by_ids_touches_only_the_users_own(owner, outsider):
    mine = [_note(owner, title=f"t{i}") for i in range(3)]
    theirs = _note(outsider)
    assert notification_mark_read(user=owner, ids=[mine[0].pk, theirs.pk]) == 1
    assert unread_count(owner) == 2
    assert unread_count(outsider) == 1
    assert notification_mark_read(user=owner) == 2
    assert unread_count(owner) == 0
    assert unread_count(outsider) == 1
    assert [n.title for n in recent_for(owner)] == ["t2", "t1", "t0"]


def test_list_shows_own_notifications_newest_first_unread_bold(client, owner, outsider):
    _note(owner, title="Older one")
    newer = _note(owner, title="Newer one")
    _note(outsider, title="Not yours")
    notification_mark_read(user=owner, ids=[newer.pk])
    client.force_login(owner)
    page = client.get(reverse("notifications:list")).content.decode()
    assert "Not yours" not in page
    assert page.index("Newer one") < page.index("Older one")
    assert page.count('class="unread"') == 1
    assert reverse("notifications:open", kwargs={"pk": newer.pk}) in page
    assert reverse("notifications:mark_read") in page


def test_empty_list(client, owner):
    client.force_login(owner)
    page = client.get(reverse("notifications:list")).content.decode()
    assert "No notifications." in page
    assert reverse("notifications:mark_read") not in page


def test_mark_all_read_is_a_post(client, owner, outsider):
    _note(owner)
    _note(owner)
    _note(outsider)
    client.force_login(owner)
    with nothing_written():
        assert client.get(reverse("notifications:mark_read")).status_code == 405
    assert unread_count(owner) == 2
    response = client.post(reverse("notifications:mark_read"))
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:list")
    assert unread_count(owner) == 0
    assert unread_count(outsider) == 1


def test_opening_a_notification_reads_it_and_follows_its_link(client, owner):
    note = _note(owner, link="/issues/7/")
    client.force_login(owner)
    response = client.get(reverse("notifications:open", kwargs={"pk": note.pk}))
    assert response.status_code == 302
    assert response["Location"] == "/issues/7/"
    note.refresh_from_db()
    assert note.read_at is not None


@pytest.mark.parametrize("link", ["", "https://evil.example/", "//evil.example/x"])
def test_a_link_off_the_site_goes_to_the_list(client, owner, link):
    note = _note(owner, link=link)
    client.force_login(owner)
    response = client.get(reverse("notifications:open", kwargs={"pk": note.pk}))
    assert response["Location"] == reverse("notifications:list")


def test_another_users_notification_is_not_found_like_a_missing_one(client, owner, outsider):
    theirs = _note(outsider, link="/issues/9/")
    client.force_login(owner)
    with nothing_written():
        other = client.get(reverse("notifications:open", kwargs={"pk": theirs.pk}))
        missing = client.get(reverse("notifications:open", kwargs={"pk": 999_999}))
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_anonymous_is_sent_to_login(client, owner):
    note = _note(owner)
    for url in (
        reverse("notifications:list"),
        reverse("notifications:open", kwargs={"pk": note.pk}),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    client.post(reverse("notifications:mark_read"))
    assert unread_count(owner) == 1


# --- header badge -------------------------------------------------------------------------


def _notification_queries(ctx: CaptureQueriesContext) -> int:
    return sum("notifications_notification" in q["sql"] for q in ctx.captured_queries)


def test_header_badge_counts_unread_in_one_query(client, county, owner, outsider):
    for i in range(3):
        _note(owner, title=f"t{i}")
    _note(outsider)
    client.force_login(owner)
    url = reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(url).content.decode()
    assert '<span class="unread-count">3</span>' in page
    assert reverse("notifications:list") in page
    assert _notification_queries(ctx) == 1

    notification_mark_read(user=owner)
    page = client.get(url).content.decode()
    assert "unread-count" not in page
    assert reverse("notifications:list") in page


def test_notification_list_costs_two_notification_queries(client, owner):
    for i in range(5):
        _note(owner, title=f"t{i}")
    client.force_login(owner)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("notifications:list"))
    assert _notification_queries(ctx) == 2  # the list, the badge


def test_no_badge_query_for_anonymous_users(client, db):
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(reverse("accounts:login")).content.decode()
    assert _notification_queries(ctx) == 0
    assert "unread-count" not in page


def test_context_processor_is_lazy(rf, db):
    from minqing.notifications.context import unread

    user = make_user("lazy")
    request = rf.get("/")
    request.user = user
    with CaptureQueriesContext(connection) as ctx:
        context = unread(request)
    assert len(ctx) == 0
    assert int(context["notifications_unread"]) == 0
