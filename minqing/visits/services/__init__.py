"""Every state change of the visit diary, one named function each.

- ``visit``: recording a visit (走访登记) and the problems raised on it;
- ``events``: household events that call for a visit or a report, and holiday campaigns;
- ``night``: night visits (民情夜访) and the monthly service day (``night_route``: which
  households, in which order);
- ``quotas``: a county's visit quotas and look-back;
- ``cadence``: the quota rules and settings in force (their defaults are written when first
  read) and the periods they count in.
"""

from minqing.visits.services import cadence, events, night, night_route, quotas, visit
from minqing.visits.services.events import (
    CampaignStarted,
    EventRecorded,
    campaign_start,
    event_record,
)
from minqing.visits.services.night import NightInput, night_plan_create, session_next
from minqing.visits.services.quotas import lookback_save, quotas_save
from minqing.visits.services.visit import (
    MAX_PROBLEMS,
    DuplicateVisit,
    Problem,
    Recorded,
    VisitInput,
    visit_record,
)

__all__ = [
    "MAX_PROBLEMS",
    "CampaignStarted",
    "DuplicateVisit",
    "EventRecorded",
    "NightInput",
    "Problem",
    "Recorded",
    "VisitInput",
    "cadence",
    "campaign_start",
    "event_record",
    "events",
    "lookback_save",
    "night",
    "night_route",
    "night_plan_create",
    "quotas",
    "quotas_save",
    "session_next",
    "visit",
    "visit_record",
]
