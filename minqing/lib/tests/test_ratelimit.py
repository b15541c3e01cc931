"""Rate limits (docs/SECURITY-BAR.md §16): the N+1-th request is refused with 429 and a
message, the limits are the settings', the window passing lets requests through again, counts
are per user (or per address), and refused disclosures are audited."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.tests.test_ledger import build_network
from minqing.households.tests.test_ledger_export import ledger  # noqa: F401 - a fixture
from minqing.lib import ratelimit

NOW = dt.datetime(2026, 11, 20, 9, 0, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- the helper


def test_the_n_plus_first_hit_is_refused_and_the_window_passing_allows_again(
    county, owner, settings, frozen
):
    settings.MINQING_RATE_LIMITS = {"search": (3, 60)}
    for _ in range(3):
        ratelimit.consume("search", owner)
    with pytest.raises(ratelimit.RateLimited) as refused:
        ratelimit.consume("search", owner)
    assert refused.value.limit == ratelimit.Limit("search", 3, 60)
    assert refused.value.retry_after == 30  # the window (09:00:00–09:01:00) ends in 30 s
    assert refused.value.message == "Too many requests. Please wait 1 minute and try again."
    frozen.shift(dt.timedelta(seconds=31))
    ratelimit.consume("search", owner)


def test_counts_are_per_user_and_per_address_not_global(county, owner, member, settings, frozen):
    settings.MINQING_RATE_LIMITS = {"search": (1, 60)}
    ratelimit.consume("search", owner)
    ratelimit.consume("search", member)  # another user: a counter of their own
    with pytest.raises(ratelimit.RateLimited):
        ratelimit.consume("search", owner)
    ratelimit.consume("public.submit", "ip:10.0.0.1")
    assert ratelimit.count("public.submit", "ip:10.0.0.2") == 0


def test_the_limits_come_from_the_settings_and_the_defaults(settings):
    settings.MINQING_RATE_LIMITS = {"export": (7, 120)}
    assert ratelimit.limit("export") == ratelimit.Limit("export", 7, 120)
    assert ratelimit.limit("export.unmasked") == ratelimit.Limit("export.unmasked", 5, 3600)
    assert ratelimit.limit("login.address") == ratelimit.Limit("login.address", 20, 900)
    settings.MINQING_PUBLIC_SUBMIT_LIMIT = 2
    assert ratelimit.limit("public.submit") == ratelimit.Limit("public.submit", 2, 600)


def test_the_environment_sets_limits_and_the_default_cache_is_shared_by_processes(monkeypatch):
    """Without Redis the counters live in files in the data dir, which every gunicorn worker
    of the server reads (a per-process memory cache would multiply every limit)."""
    import importlib

    import minqing.settings as production

    monkeypatch.setenv("MINQING_RATE_LIMITS", "search=3/10, export=1/5")
    monkeypatch.delenv("MINQING_REDIS_URL", raising=False)
    try:
        fresh = importlib.reload(production)
        assert fresh.MINQING_RATE_LIMITS == {"search": (3, 10), "export": (1, 5)}
        cache = fresh.CACHES["default"]
        assert cache["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
        assert cache["LOCATION"] == str(fresh.DATA_DIR / "cache")
    finally:
        monkeypatch.delenv("MINQING_RATE_LIMITS")
        importlib.reload(production)


def test_the_command_line_is_not_limited(county, settings):
    settings.MINQING_RATE_LIMITS = {"export": (1, 60)}
    for _ in range(3):
        ratelimit.consume("export", None)


# --------------------------------------------------------------------------- search


def test_search_page_and_api_share_one_limit_and_keep_the_typed_text(
    county, owner, member, settings, frozen
):
    settings.MINQING_RATE_LIMITS = {"search": (3, 60)}
    page = reverse("households:search")
    client = _client(owner)
    for query in ("王", "刘", "张"):
        assert client.get(page, {"q": query}).status_code == 200
    refused = client.get(page, {"q": "李四"})
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    text = refused.content.decode()
    assert "Too many requests. Please wait 1 minute and try again." in text
    assert 'value="李四"' in text  # the top search field keeps it
    api = client.get(reverse("api:search"), {"q": "王"})
    assert api.status_code == 429
    assert api.json() == {
        "detail": "Too many requests. Please wait 1 minute and try again.",
        "code": "rate_limited",
    }
    # an empty search counts nothing, and another user searches on
    assert _client(member).get(page, {"q": "王"}).status_code == 200
    frozen.shift(dt.timedelta(seconds=31))
    assert client.get(page, {"q": "李四"}).status_code == 200


# --------------------------------------------------------------------------- exports


def test_unmasked_ledger_export_is_limited_tighter_and_the_refusal_audited(
    county,
    owner,
    ledger,  # noqa: F811
    settings,
    frozen,
):
    settings.MINQING_RATE_LIMITS = {"export.unmasked": (2, 3600), "export": (5, 3600)}
    url = reverse("ledger:export", kwargs={"node_pk": county.village_a.pk})
    client = _client(owner)
    for _ in range(2):
        assert client.post(url, {"format": "csv", "unmasked": "1"}).status_code == 200
    exports = AuditEvent.objects.filter(action="personal_data.export").count()
    for _ in range(3):
        refused = client.post(url, {"format": "csv", "unmasked": "1"})
        assert refused.status_code == 429
        text = refused.content.decode()
        assert 'name="unmasked" value="1"' in text and 'name="format" value="csv"' in text
    assert AuditEvent.objects.filter(action="personal_data.export").count() == exports
    trip = AuditEvent.objects.get(action="rate_limited")
    assert (trip.username, trip.success, trip.detail["limit"]) == (
        "owner",
        False,
        "export.unmasked",
    )
    # the masked export has its own, wider limit
    assert client.post(url, {"format": "csv"}).status_code == 200


def test_contact_ledger_xlsx_and_cards_are_limited_per_user(county, owner, settings, frozen):
    build_network(county, owner)
    settings.MINQING_RATE_LIMITS = {"export": (1, 3600), "cards": (1, 3600)}
    client = _client(owner)
    xlsx = reverse("contacts:ledger_xlsx", kwargs={"node_pk": county.village_a.pk})
    assert client.get(xlsx).status_code == 200
    assert client.get(xlsx).status_code == 429
    cards = reverse("contacts:cards_pdf", kwargs={"node_pk": county.village_a.pk})
    assert client.get(cards).status_code == 200
    assert client.get(cards).status_code == 429
    assert AuditEvent.objects.filter(action="contacts.cards").count() == 1
    trips = AuditEvent.objects.filter(action="rate_limited").values_list("detail__limit", flat=True)
    assert list(trips) == ["cards"]  # a masked export's refusal is not a disclosure
    other = make_user("owner2", Role.VILLAGE_CADRE, county.village_a)
    assert _client(other).get(cards).status_code == 200
    frozen.shift(dt.timedelta(hours=1))
    assert _client(owner).get(cards).status_code == 200  # (the old session timed out)


def test_the_audit_export_is_limited(county, auditor, settings, frozen):
    settings.MINQING_RATE_LIMITS = {"export": (1, 3600)}
    client = _client(auditor)
    assert client.post(reverse("audit:export"), {"user": "owner"}).status_code == 200
    refused = client.post(reverse("audit:export"), {"user": "owner"})
    assert refused.status_code == 429
    assert 'name="user" value="owner"' in refused.content.decode()
    assert AuditEvent.objects.filter(action="audit.export").count() == 1
