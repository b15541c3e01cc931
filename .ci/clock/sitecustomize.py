"""Moves the clock of every Python process started with this folder on PYTHONPATH (``./dev at``).

``MINQING_CLOCK_AT`` is the instant the clock should show (ISO 8601 with offset) at the real
epoch ``MINQING_CLOCK_SINCE``; from there it ticks, so the demo, its web server and its worker —
separate processes started at different moments — agree on the time. Test tooling only: it is
never on the path of an installed Minqing. ``time.monotonic`` is left alone (time-machine does),
so timeouts keep working.
"""

import datetime as _dt
import os as _os
import time as _time

_at = _os.environ.get("MINQING_CLOCK_AT")
if _at:
    import time_machine as _tm

    _since = float(_os.environ.get("MINQING_CLOCK_SINCE") or _time.time())
    _dest = _dt.datetime.fromisoformat(_at).timestamp() + (_time.time() - _since)
    _tm.travel(_dest, tick=True).start()
