"""Tree browser and village page: counts, sub-units and the household list."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minqing.households.models import HouseholdTag
from minqing.households.services import household_update
from minqing.org.models import Level, Node
from minqing.org.services import node_create, node_move, recount_tree
from minqing.tests.dbstate import nothing_written


def test_village_page_lists_its_households_and_a_grid_page_only_its_own(client, county, owner):
    client.force_login(owner)
    village = client.get(reverse("org:node", kwargs={"pk": county.village_a.pk})).content.decode()
    assert "王建国" in village and "王秀英" in village and "李德明" not in village
    grid = client.get(reverse("org:node", kwargs={"pk": county.grid_a1.pk})).content.decode()
    assert "王建国" in grid and "王秀英" not in grid


def test_tag_filter(client, county, owner):
    tag = HouseholdTag.objects.get(code="elderly_alone")
    household_update(by=owner, household=county.household_a2, data={}, base_version=1, tags=[tag])
    client.force_login(owner)
    url = reverse("org:node", kwargs={"pk": county.village_a.pk}) + "?tag=elderly_alone"
    page = client.get(url).content.decode()
    assert "王秀英" in page and "王建国" not in page


def test_county_page_shows_rolled_up_counts(client, county, county_user):
    client.force_login(county_user)
    page = client.get(reverse("org:node", kwargs={"pk": county.county.pk})).content.decode()
    assert "古井镇" in page and "华佗镇" in page
    assert "2 households · 2 residents" in page  # 古井镇
    assert "1 households · 1 residents" in page  # 华佗镇


def test_home_redirects_a_single_scope_to_its_node(client, county, owner):
    client.force_login(owner)
    response = client.get(reverse("org:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("org:node", kwargs={"pk": county.village_a.pk})


def test_village_page_query_count_does_not_grow(client, county, owner, pinned_queries):
    from minqing.households.services import household_create

    client.force_login(owner)
    url = reverse("org:node", kwargs={"pk": county.village_a.pk})
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(12):
        household_create(
            by=owner,
            node=county.grid_a2,
            data={"number": f"N{i:03d}", "head_name": f"新户{i}"},
            tags=list(HouseholdTag.objects.all()[:2]),
        )
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)
    pinned_queries.pin("org.village_page", many)


def test_move_subtree_keeps_paths_and_counts(county):
    node_move(node=county.village_a, new_parent=county.town_b)
    village = Node.objects.get(pk=county.village_a.pk)
    assert village.path == f"{county.town_b.path}{village.pk}/"
    grid = Node.objects.get(pk=county.grid_a1.pk)
    assert grid.path.startswith(village.path) and grid.depth == 3
    counts = dict(Node.objects.values_list("name", "household_count").filter(level=Level.TOWN))
    assert counts == {"古井镇": 0, "华佗镇": 3}
    assert recount_tree() == 0  # the incremental counts were already right


def test_a_village_cannot_move_under_a_grid(county):
    import pytest
    from django.core.exceptions import ValidationError

    with nothing_written(), pytest.raises(ValidationError):
        node_move(node=county.village_a, new_parent=county.grid_b1)
    assert Node.objects.get(pk=county.village_a.pk).parent_id == county.town_a.pk


def test_sibling_names_are_unique_but_cousins_may_share(county):
    import pytest
    from django.core.exceptions import ValidationError

    with nothing_written(), pytest.raises(ValidationError):
        node_create(name="一组", level=Level.GRID, parent=county.village_a)
    assert county.grid_b1.name == county.grid_a1.name == "一组"
