"""The dispatch board's SQLite read plan (``lib.sqlite_plans.rows_reading`` adds
``INDEXED BY "issue_status_due"`` to the ORM's SQL): on SQLite the query it runs walks that
index in deadline order with no sort of its own; on either database the board shows the same
issues, in the same order, as the plain ORM query it stands for."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from minqing.issues import selectors
from minqing.issues.models import Issue


def _expected(user, states, per_column: int) -> list[int]:
    """The column as the ORM alone would read it: open issues of the states, by deadline."""
    qs = selectors.board_scope(user).filter(status__in=states)
    rows = sorted(qs.values_list("id", "due_at"), key=lambda r: (r[1] is None, r[1], r[0]))
    return [pk for pk, _due in rows[:per_column]]


def test_the_board_reads_the_deadline_index_and_shows_what_the_orm_would(
    clock, county, town, register
):
    issues = [register(description=f"水渠漏水 {i}") for i in range(5)]
    # Deadlines out of id order (two alike), so the order is the index's and not the ids'.
    # (Every open issue has a deadline: the services set one at each stage.)
    start = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    for n, issue in zip([3, 1, 4, 1, 0], issues, strict=True):
        Issue.objects.filter(pk=issue.pk).update(due_at=start + dt.timedelta(days=n))
    with CaptureQueriesContext(connection) as queries:
        columns = selectors.board(town, per_column=3)
    shown = {c.key: [i.pk for i in c.issues] for c in columns}
    for key, _label, states in selectors.BOARD_GROUPS:
        assert shown[key] == _expected(town, states, 3), key
    assert len(shown["to_dispatch"]) == 3
    hinted = [q["sql"] for q in queries.captured_queries if "INDEXED BY" in q["sql"]]
    if connection.vendor != "sqlite":
        assert hinted == []  # PostgreSQL runs the ORM's query as it is
        return
    assert len(hinted) == sum(len(states) for _k, _l, states in selectors.BOARD_GROUPS)
    with connection.cursor() as cursor:
        for sql in hinted:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = " / ".join(str(row[-1]) for row in cursor.fetchall())
            assert "INDEX issue_status_due" in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # read in deadline order: no sort
