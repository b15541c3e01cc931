"""Settings for the subprocess test of ``minqing worker``: one dummy job every second."""

from minqing.settings import *  # noqa: F403

MINQING_PERIODIC_JOBS = {
    "test.touch": {"path": "minqing.notifications.tests.test_worker.touch_marker", "every": 1},
}
