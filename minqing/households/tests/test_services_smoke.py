from minqing.households.models import Household


def test_fixture_county_counts(county):
    county.county.refresh_from_db()
    assert county.county.household_count == 3
    assert county.county.resident_count == 3
    assert Household.objects.count() == 3
