"""The bench's quarterly campaign (``minqing.demo.menus``) and the pages that read it.

The whole quarter runs through the services — 14 departments' XLSForm checklists merged into
one menu, a campaign over the county, every household answered in its visitor's batches, a
second version halfway — beside a plain insert of as many rows as it writes. The progress page
is timed with half the households answered and again at the end, the water department's
results page at the end, each beside the trivial logged-in page.
"""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from minqing.accounts.models import User
from minqing.demo.bench import Row, Timing, _url, measure, reference_insert_seconds
from minqing.demo.menus import CampaignReport, run_campaign
from minqing.menus.models import Campaign
from minqing.org.models import Department, Level, Node

CAMPAIGN_TARGET_S = 600.0
PROGRESS_TARGET_MS = 200.0
RESULTS_TARGET_MS = 300.0


def _nodes(county: Node) -> dict[str, Node]:
    """The county, its largest town and that town's largest village (by households)."""
    town = (
        Node.objects.filter(parent=county, level=Level.TOWN)
        .order_by("-household_count", "pk")
        .first()
    )
    village = (
        Node.objects.filter(parent=town, level=Level.VILLAGE)
        .order_by("-household_count", "pk")
        .first()
    )
    out = {"county": county}
    if town is not None:
        out["town"] = town
    if village is not None:
        out["village"] = village
    return out


def _page(name: str, campaign: Campaign, **query: int) -> str | None:
    base = _url(name, pk=campaign.pk)
    if base is None:
        return None
    return base + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def _timed_rows(
    label: str,
    target_ms: float,
    client: Client,
    urls: dict[str, str | None],
    repeat: int,
    ref: Timing,
) -> list[Row]:
    rows = []
    for where, url in urls.items():
        if url is None:
            rows.append(Row(f"{label} · {where}", "no such page", "", "", None))
            continue
        timing = measure(client, [url] * repeat)
        rows.append(
            Row(
                f"{label} · {where}",
                timing.text(),
                f"trivial logged-in page: {ref.text()}",
                f"p95 ≤ {target_ms:.0f} ms",
                timing.p95 <= target_ms and not timing.status_note,
            )
        )
    return rows


def _progress_urls(campaign: Campaign, nodes: dict[str, Node]) -> dict[str, str | None]:
    below = {"county": "its towns", "town": "its villages", "village": "its grids"}
    return {
        f"{where} ({node.name}, {below[where]})": _page("menus:campaign", campaign, node=node.pk)
        for where, node in nodes.items()
    }


def campaign_rows(repeat: int, seed: int) -> list[Row]:
    county = Node.objects.get(level=Level.COUNTY)
    users = {u.username: u for u in User.objects.filter(username__in=["county", "water"])}
    command = Client(raise_request_exception=False)
    command.force_login(users["county"])
    ping = reverse("bench-ping")
    nodes = _nodes(county)
    during: list[Row] = []

    def midway(campaign: Campaign) -> None:
        ref = measure(command, [ping] * repeat)
        during.extend(
            _timed_rows(
                "Progress page, half the households answered · command centre",
                PROGRESS_TARGET_MS,
                command,
                _progress_urls(campaign, nodes),
                repeat,
                ref,
            )
        )

    report = run_campaign(county, seed=seed, hold_back=0, midway=midway)
    assert report.campaign_id is not None  # run_campaign opened one
    campaign = Campaign.objects.get(pk=report.campaign_id)
    rows = [_campaign_row(report)] + during
    ref = measure(command, [ping] * repeat)
    rows += _timed_rows(
        "Progress page, campaign done · command centre",
        PROGRESS_TARGET_MS,
        command,
        _progress_urls(campaign, nodes),
        repeat,
        ref,
    )
    water = Department.objects.get(county=county, code="water")
    staff = Client(raise_request_exception=False)
    staff.force_login(users["water"])
    ref = measure(staff, [ping] * repeat)
    results = {
        f"{where} ({node.name})": _page(
            "menus:results", campaign, department=water.pk, node=node.pk
        )
        for where, node in nodes.items()
        if where != "village"
    }
    rows += _timed_rows(
        "Results page · 区水利局 staff", RESULTS_TARGET_MS, staff, results, repeat, ref
    )
    return rows


def _campaign_row(report: CampaignReport) -> Row:
    seconds = report.seconds.get("total", 0.0)
    answering = report.seconds.get("answers_v1", 0.0) + report.seconds.get("answers_v2", 0.0)
    written = report.answered + report.tasks
    reference_s = reference_insert_seconds(written)
    figure = (
        f"Quarterly campaign through the services: {report.tasks:,} households, "
        f"{report.visitors:,} visitors, a menu of {report.questions} questions in 8 themes from "
        f"{report.checklists} XLSForm checklists, version 2 halfway, "
        f"{report.processes} phone{'s' if report.processes > 1 else ''} syncing at once "
        f"({report.issues:,} issues raised, {report.joined:,} more households joined one)"
    )
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_outcome.items()))
    if report.refused or report.answered != report.tasks:
        refused = ", ".join(f"{k}×{v:,}" for k, v in sorted(report.refused.items()))
        measured = (
            f"no figure: {report.tasks - report.answered:,} of {report.tasks:,} households not "
            f"saved ({refused or 'missing'})"
        )
        return Row(figure, measured, "", f"≤ {CAMPAIGN_TARGET_S:.0f} s", False)
    rate = report.answered / answering if answering else 0
    measured = (
        f"{seconds:.1f} s: menu {report.seconds.get('menu', 0):.1f} s, tasks "
        f"{report.seconds.get('start', 0):.1f} s, answers {answering:.1f} s "
        f"({rate:,.0f} households/s in {report.batches:,} syncs; {outcomes}; "
        f"{report.paper:,} with nobody responsible typed in from paper by the village; "
        f"{report.calls:,} failed calls first)"
    )
    reference = (
        f"{reference_s:.1f} s to insert {written:,} rows of (id, int) "
        f"({written / reference_s if reference_s else 0:,.0f} rows/s)"
    )
    return Row(
        figure, measured, reference, f"≤ {CAMPAIGN_TARGET_S:.0f} s", seconds <= CAMPAIGN_TARGET_S
    )
