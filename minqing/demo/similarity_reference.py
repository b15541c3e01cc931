"""The reference the similar-issue index replaces, for the bench and the tests: it reads and
scores every open issue of the town with the index's own scoring (``similarity.rank``), so
both give the same numbers wherever the index is exact (see ``minqing.issues.similarity``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TypedDict

from minqing.issues.models import OPEN_STATES, Issue
from minqing.issues.similarity import MIN_SCORE, Similar, idf, rank, terms


class Lookup(TypedDict):
    """One lookup as the benches pass it to ``similar_issues`` and to the reference."""

    text: str
    category_id: int | None
    village_id: int | None
    town_id: int


def similar_issues_bruteforce(
    *,
    text: str,
    category_id: int | None,
    village_id: int | None,
    town_id: int,
    exclude_ids: Iterable[int] = (),
    limit: int = 5,
    min_score: float = MIN_SCORE,
) -> list[Similar]:
    """The reference the index replaces: reads and scores every open issue of the town."""
    query = terms(text)
    if not query or limit <= 0:
        return []
    exclude = set(exclude_ids)
    docs = []
    n = 0
    df: Counter[str] = Counter()
    rows = Issue.objects.filter(town_id=town_id, status__in=OPEN_STATES).values_list(
        "id", "title", "description", "category_id", "village_id"
    )
    for issue_id, title, description, category, village in rows.iterator(chunk_size=2000):
        n += 1
        counts = terms(f"{title}\n{description}")
        df.update(counts.keys() & query.keys())
        if issue_id not in exclude:
            docs.append((issue_id, counts, category, village or 0))
    idfs = {t: idf(df.get(t, 0), n) for t in query}
    return rank(
        (d for d in docs if not d[1].keys().isdisjoint(query)),
        query=query,
        idfs=idfs,
        category_id=category_id,
        village_id=village_id,
        limit=limit,
        min_score=min_score,
    )
