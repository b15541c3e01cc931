"""The quota report's SQL pieces (``compliance``): which visits belong to a place, each
person's contacts with each household as a CTE, and the per-link expressions of the quotas.

Table names come from the models and every value is a parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.utils import timezone

from minqing.households.models import Household
from minqing.org.models import Level, Node
from minqing.visits.models import HOME_MODES, QuotaRule, Visit

if TYPE_CHECKING:
    from minqing.visits.selectors.compliance import Window


def instant(day: dt.date) -> Any:
    """Local midnight at the start of ``day``, as the database compares it."""
    at = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())
    return connection.ops.adapt_datetimefield_value(at)


def visit_scope(node: Node) -> tuple[str, list[Any]]:
    """Which visits belong to the place: by village (the visit index), then by grid."""
    node_t = Node._meta.db_table
    if node.level == Level.VILLAGE:
        return "v.village_id = %s", [node.pk]
    lo, hi = node.path, node.path[:-1] + "0"
    if node.level in (Level.AREA, Level.GRID):
        village = Node.objects.ancestors_of(node).filter(level=Level.VILLAGE).first()
        hh_t = Household._meta.db_table
        grid = f"SELECT id FROM {node_t} WHERE path >= %s AND path < %s"  # noqa: S608
        homes = f"SELECT id FROM {hh_t} WHERE node_id IN ({grid})"  # noqa: S608
        return (
            f"v.village_id = %s AND v.household_id IN ({homes})",
            [village.pk if village else 0, lo, hi],
        )
    return (
        f"v.village_id IN (SELECT id FROM {node_t} WHERE level = %s AND path >= %s AND path < %s)",  # noqa: S608
        [Level.VILLAGE.value, lo, hi],
    )


def contacts_cte(
    window: Window, where: str, where_params: list[Any], person: int | None = None
) -> tuple[str, list[Any]]:
    """``contacts(household_id, person_id, n_any, n_home, p_any, p_home, last_at)``: each
    person's contacts with each household in the window (n) and the window before (p)."""
    visit_t = Visit._meta.db_table
    team_t = Visit.companions.through._meta.db_table
    lo = instant(window.previous_start)
    start = instant(window.start)
    stop = instant(window.end + dt.timedelta(days=1))
    homes = [str(m) for m in HOME_MODES]
    marks = ", ".join(["%s"] * len(homes))
    who_v, who_c, who = ("", "", [])
    if person is not None:
        who_v, who_c, who = " AND v.visitor_id = %s", " AND c.user_id = %s", [person]
    sql = f"""
    WITH touches AS (
        SELECT v.id AS visit_id, v.household_id, v.visitor_id AS person_id, v.mode, v.visited_at
        FROM {visit_t} v
        WHERE {where} AND v.visited_at >= %s AND v.visited_at < %s{who_v}
        UNION
        SELECT v.id, v.household_id, c.user_id, v.mode, v.visited_at
        FROM {visit_t} v JOIN {team_t} c ON c.visit_id = v.id
        WHERE {where} AND v.visited_at >= %s AND v.visited_at < %s{who_c}
    ), contacts AS (
        SELECT household_id, person_id,
            SUM(CASE WHEN visited_at >= %s THEN 1 ELSE 0 END) AS n_any,
            SUM(CASE WHEN visited_at >= %s AND mode IN ({marks}) THEN 1 ELSE 0 END) AS n_home,
            SUM(CASE WHEN visited_at < %s THEN 1 ELSE 0 END) AS p_any,
            SUM(CASE WHEN visited_at < %s AND mode IN ({marks}) THEN 1 ELSE 0 END) AS p_home,
            MAX(visited_at) AS last_at
        FROM touches GROUP BY household_id, person_id
    )"""  # noqa: S608 - table names and placeholders we make
    params = [
        *where_params,
        lo,
        stop,
        *who,
        *where_params,
        lo,
        stop,
        *who,
        start,
        start,
        *homes,
        start,
        start,
        *homes,
    ]
    return sql, params


def count_of(rule: QuotaRule, previous: bool = False) -> str:
    column = ("p_" if previous else "n_") + ("home" if rule.home_only else "any")
    return f"COALESCE(c.{column}, 0)"


def by_kind(rulesby_kind: dict[str, list[QuotaRule]], build: Any, other: str) -> tuple:
    """``CASE li.kind WHEN … THEN build(rules) … ELSE other END`` and its parameters."""
    parts: list[str] = []
    params: list[Any] = []
    for kind, rules in sorted(rulesby_kind.items()):
        parts.append(f"WHEN %s THEN {build(rules)}")
        params.append(kind)
    if not parts:
        return other, []
    return f"(CASE li.kind {' '.join(parts)} ELSE {other} END)", params


def link_expressions(
    window: Window, per_household: dict[str, list[QuotaRule]]
) -> list[tuple[str, list[Any]]]:
    """Per link: (contacted, done, short, overdue) expressions with their parameters."""

    def contacted(rules: list[QuotaRule]) -> str:
        home = any(r.home_only for r in rules)
        return f"(CASE WHEN COALESCE(c.{'n_home' if home else 'n_any'}, 0) > 0 THEN 1 ELSE 0 END)"

    def done(rules: list[QuotaRule]) -> str:
        terms = []
        for r in rules:
            n, need = count_of(r), int(r.count)
            terms.append(f"(CASE WHEN {n} >= {need} THEN {need} ELSE {n} END)")
        return "(" + " + ".join(terms) + ")"

    def short_cond(rules: list[QuotaRule]) -> str:
        return " OR ".join(f"{count_of(r)} < {int(r.count)}" for r in rules)

    def short(rules: list[QuotaRule]) -> str:
        return f"(CASE WHEN {short_cond(rules)} THEN 1 ELSE 0 END)"

    def late(rules: list[QuotaRule]) -> str:
        if not window.current:
            missed = short_cond(rules)
        else:
            missed = " OR ".join(
                f"({count_of(r)} < {int(r.count)} AND {count_of(r, True)} < {int(r.count)})"
                for r in rules
            )
        return f"(CASE WHEN l.started_at < %s AND ({missed}) THEN 1 ELSE 0 END)"

    since = instant(window.previous_start if window.current else window.start)
    any_contact = "(CASE WHEN COALESCE(c.n_any, 0) > 0 THEN 1 ELSE 0 END)"
    c_sql, c_params = by_kind(per_household, contacted, any_contact)
    d_sql, d_params = by_kind(per_household, done, "0")
    s_sql, s_params = by_kind(per_household, short, "0")
    o_sql, o_params = by_kind(per_household, late, "0")
    # each WHEN of the overdue expression carries one "since" parameter after its kind
    o_params = [p for kind in o_params for p in (kind, since)]
    return [(c_sql, c_params), (d_sql, d_params), (s_sql, s_params), (o_sql, o_params)]


def fetch(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
