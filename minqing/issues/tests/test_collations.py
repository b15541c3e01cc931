"""The byte-wise columns: declared on the fields (so the migration state knows them), "C" on
PostgreSQL, and the queries that need them keep reading one index range on either database
(minqing/lib/collations.py says why)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.models import QuerySet

from minqing.households.models import Household, Resident
from minqing.households.selectors import prefix_q
from minqing.issues.models import Issue, IssueTerm
from minqing.org.models import Node, subtree_q

pytestmark = pytest.mark.django_db

BYTEWISE_COLUMNS = [
    ("org", "node", "name"),
    ("org", "node", "path"),
    ("households", "household", "number"),
    ("households", "household", "address"),
    ("households", "household", "head_name"),
    ("households", "resident", "name"),
    ("issues", "issue", "node_path"),
    ("issues", "issueterm", "term"),
]


@pytest.mark.parametrize(("app", "model", "field"), BYTEWISE_COLUMNS)
def test_the_migration_state_knows_the_collation(app, model, field):
    state = MigrationLoader(connection).project_state()
    assert state.apps.get_model(app, model)._meta.get_field(field).db_collation == "C"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="collations are PostgreSQL's")
def test_the_columns_are_c_on_postgresql():
    tables = {f"{app}_{model}" for app, model, _field in BYTEWISE_COLUMNS}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ANY(%s)"
            " AND collation_name IS NOT NULL",
            [sorted(tables)],
        )
        collated = {(table, column): name for table, column, name in cursor.fetchall()}
    assert collated == {(f"{app}_{model}", field): "C" for app, model, field in BYTEWISE_COLUMNS}


def _plan(qs: QuerySet) -> str:
    """The plan of ``qs`` as the planner would choose it on a big table (the test tables are
    tiny, where a sequential or bitmap scan and a sort win on PostgreSQL): with those
    discouraged, an index that serves the range and the order is taken if there is one."""
    settings = ("enable_seqscan", "enable_bitmapscan", "enable_sort")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for name in settings:
                cursor.execute(f"SET LOCAL {name} = off")
        try:
            return qs.explain()
        finally:
            with connection.cursor() as cursor:
                for name in settings:
                    cursor.execute(f"SET LOCAL {name} = on")
    return qs.explain()


def _assert_index_range(plan: str, *, ordered: bool) -> None:
    if connection.vendor == "postgresql":
        assert "Index Cond" in plan, plan  # the condition bounds the index scan
        if ordered:
            assert "Sort" not in plan, plan  # and the index gives the order too
    else:
        assert "SEARCH" in plan and "INDEX" in plan, plan
        if ordered:
            assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (Resident, "name"),
        (Household, "head_name"),
        (Household, "address"),
        (Household, "number"),
        (Node, "name"),
    ],
)
def test_prefix_search_reads_one_index_range_in_order(model, field):
    qs = model.objects.filter(prefix_q(field, "王")).order_by(field).values("pk")[:50]
    _assert_index_range(_plan(qs), ordered=True)


def test_a_subtree_is_one_index_range_of_paths():
    qs = Node.objects.filter(subtree_q("/1/7/")).order_by("path").values("pk")
    _assert_index_range(_plan(qs), ordered=True)


def test_the_issues_of_a_subtree_are_one_index_range():
    qs = Issue.objects.filter(subtree_q("/1/7/", "node_path"), status="submitted").values("pk")
    _assert_index_range(_plan(qs), ordered=False)


def test_similar_issue_terms_are_looked_up_by_index():
    qs = IssueTerm.objects.filter(town_id_value=1, term__in=["路灯", "漏水"]).values("issue_id")
    _assert_index_range(_plan(qs), ordered=False)
