"""The top bar offers only links that lead somewhere for the user."""

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.org.models import Department


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.GROUP_LEADER, ["My households", "Issues"], ["Audit trail"]),
        (Role.TOWN_STAFF, ["Issues"], ["My households", "Audit trail"]),
        (Role.DEPARTMENT, ["Issues"], ["My households", "Audit trail"]),
        (Role.AUDITOR, ["Audit trail"], ["My households", ">Issues<"]),
    ],
)
def test_the_top_bar_shows_what_the_user_can_use(client, county, role, shown, hidden):
    if role == Role.DEPARTMENT:
        water = Department.objects.create(county=county.county, name="区水利局", kind="department")
        user = make_user("nav_user", role, department=water)
    elif role == Role.AUDITOR:
        user = make_user("nav_user", role)
    else:
        place = county.town_a if role == Role.TOWN_STAFF else county.grid_a1
        user = make_user("nav_user", role, place)
    client.force_login(user)
    page = client.get(reverse("notifications:list")).content.decode()
    nav = page[page.index('<nav class="topnav">') : page.index("</nav>")]
    for label in shown:
        assert label in nav
    for label in hidden:
        assert label not in nav
