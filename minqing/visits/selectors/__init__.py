"""Reading the visit diary: a person's households, a household's visits, night visits, events
and campaigns, and the quotas kept (``compliance``)."""

from minqing.visits.selectors import compliance, events, households, night
from minqing.visits.selectors.events import campaigns_of, household_events
from minqing.visits.selectors.households import (
    MyHousehold,
    colleagues,
    household_visits,
    my_households,
    visible_household,
)
from minqing.visits.selectors.night import StopRow, plan_stops, plans_at

__all__ = [
    "MyHousehold",
    "StopRow",
    "campaigns_of",
    "colleagues",
    "compliance",
    "events",
    "household_events",
    "household_visits",
    "households",
    "my_households",
    "night",
    "plan_stops",
    "plans_at",
    "visible_household",
]
