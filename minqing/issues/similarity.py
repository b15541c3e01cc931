"""Similar issues (相似问题) on registration; alike issues across places are in ``topics.py``.

Text → terms
    Every run of CJK characters gives its character bigrams and its characters (unigrams),
    leaving out a short list of function characters (的 了 是 我 …) and the bigrams touching
    them; every latin word of two or more letters/digits with at least one letter is one term
    (NFKC, lower-case, cut to 16 characters); digits alone, punctuation and whitespace are
    dropped (house numbers, dates and phone numbers are noise — and personal data). No word
    segmentation is needed. Measured on ``tests/test_similarity.py`` (three households
    describing one broken irrigation channel among 30 other complaints of the village): with
    bigrams only, "灌溉渠坏了…庄稼缺水" shares no term at all with "水渠漏水…浇不了地"; with the
    unigrams it ranks it second and above ``MIN_SCORE``, while the best unrelated text stays
    below. Dropping the function-character bigrams raised the duplicates' scores more than the
    others'. Index rows per issue on the generated corpus: 38, against 25 for plain bigrams.

Weights and score (SMART "lnc.ltc", the classic TF-IDF cosine of Manning et al., ch. 6)
    For a town with ``N`` indexed (open) issues, ``df(t)`` of them containing term ``t``:
    ``idf(t) = ln((1 + N) / (1 + df(t))) + 1``; the query weighs ``q(t) = (1 + ln tf) · idf(t)``,
    an issue (title + description) ``d(t) = 1 + ln tf``; ``cos`` is their cosine (∈ [0, 1]) and

        score = cos · (1 + 0.15·[same category] + 0.10·[same village]) / 1.25

    so nothing scores above 1, a same-village, same-category copy of the text scores close to 1
    (exactly 1 when its terms are equally rare: IDF weighs the query side only), and the boosts
    only reorder texts that already share words (cos 0 stays 0). IDF on the query side only
    keeps an issue's length independent of the rest of the town, so re-ranking needs no
    document frequencies beyond the query's terms; on the test texts it separates the duplicates
    from the rest as well as IDF on both sides does.

Lookup (``similar_issues``) — four SQL queries whatever the town's size:
    1. document frequencies of the query terms in the town (covering index issue_term_town);
    2. ``N``, the town's open issues (index issue_town_board);
    3. the top ``CANDIDATES`` issues by Σ q(t) over the postings of the selecting terms
       (covering index issue_term_town): every query term found in at most ``COMMON_SHARE`` of
       the town's issues, then common ones (rarest first) until the rest could not give any
       issue a cosine of ``max(min_score, COMMON_REACH)`` (see ``_selecting``) — the long
       postings of words like 希望/解决 are read only when they could matter;
    4. the candidates' term vectors, category and village (index issue_term_issue);
    then the candidates are re-ranked by the exact score in Python; ties go to the newer issue.
    ``minqing.demo.similarity_reference.similar_issues_bruteforce`` (the bench's and the tests'
    reference) computes the same scores from every open issue of the town.
    The two can differ only where the index is approximate: an issue sharing nothing but
    common words with the text (cosine below ``COMMON_REACH`` from those), or one outside the
    ``CANDIDATES`` best by Σ q(t) that would rank higher once its length is counted.

The index (``IssueTerm``) holds open issues only; the issue services call ``sync_index`` inside
their transaction after every change of text or status.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from django.db import connection, transaction
from django.db.models import Count

from minqing.issues.models import OPEN_STATES, Issue, IssueTerm

MAX_TERM = 16  # IssueTerm.term max_length
MAX_COUNT = 32767  # PositiveSmallIntegerField
CATEGORY_BOOST = 0.15
VILLAGE_BOOST = 0.10
#: Default cut-off of ``similar_issues``: below it texts share only incidental words.
MIN_SCORE = 0.13
#: How many issues the index proposes for exact re-ranking.
CANDIDATES = 60
#: At most this many query terms (the heaviest) select candidates; all of them score.
MAX_QUERY_TERMS = 64
#: Terms in more than this share of the town's issues (and more than COMMON_FLOOR issues) do not
#: select candidates.
COMMON_SHARE = 0.05
COMMON_FLOOR = 50
#: Common terms are read until the others could not reach this cosine (see ``_selecting``).
COMMON_REACH = 0.5

# CJK runs (with compatibility ideographs and radicals) or latin/digit runs (half or full width).
_TOKEN = re.compile(
    r"[\u2e80-\u2fdf\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+"
    r"|[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+"
)
_CJK_START = "\u2e80"
#: Function characters: neither they nor the bigrams touching them say what the problem is.
STOP_CHARACTERS = frozenset(
    "的了是在我你他她它们这那有和与也都就不没很要着过给跟被把让个一天好几里边头条到说还又啊吧呢吗"
)


@dataclass(frozen=True)
class Similar:
    """One similar open issue: its id, score in [0, 1] (3 decimals), and whether same village."""

    issue_id: int
    score: float
    same_village: bool


# -- text → terms ------------------------------------------------------------------------------


def terms(text: str) -> Counter[str]:
    """The index terms of ``text`` with their counts: CJK bigrams and unigrams, latin words."""
    found: list[str] = []
    stop = STOP_CHARACTERS
    # Splitting first and normalising only the runs that need it (NFKC of a whole text costs
    # more than the rest of this function: 。 and ， are compatibility characters).
    for run in _TOKEN.findall(text or ""):
        if not unicodedata.is_normalized("NFKC", run):
            run = unicodedata.normalize("NFKC", run)
        if run[0] >= _CJK_START:
            found += [a + b for a, b in pairwise(run) if a not in stop and b not in stop]
            found += [ch for ch in run if ch not in stop]
        elif len(run) >= 2 and not run.isdigit():
            found.append(run[:MAX_TERM].lower())
    return Counter(found)


def issue_text(issue: Issue) -> str:
    """What is indexed of an issue (and what a lookup for an issue is made of)."""
    return f"{issue.title}\n{issue.description}"


# -- scoring (shared by the index and the brute force so both give the same numbers) ------------


def idf(df: int, n: int) -> float:
    return math.log((1 + n) / (1 + df)) + 1.0


def term_weights(counts: Mapping[str, int], idfs: Mapping[str, float] | None = None) -> dict:
    """Log term frequency, times the IDF when given (the query side)."""
    if idfs is None:
        return {t: 1.0 + math.log(c) for t, c in counts.items()}
    return {t: (1.0 + math.log(c)) * idfs[t] for t, c in counts.items()}


def vector_norm(vector: Mapping[str, float]) -> float:
    return math.sqrt(math.fsum(w * w for w in vector.values()))


def _score(cos: float, same_category: bool, same_village: bool) -> float:
    boost = 1.0 + CATEGORY_BOOST * same_category + VILLAGE_BOOST * same_village
    return round(cos * boost / (1.0 + CATEGORY_BOOST + VILLAGE_BOOST), 3)


def rank(
    docs: Iterable[tuple[int, Mapping[str, int], int | None, int | None]],
    *,
    query: Mapping[str, int],
    idfs: Mapping[str, float],
    category_id: int | None,
    village_id: int | None,
    limit: int,
    min_score: float,
) -> list[Similar]:
    """Score (issue id, term counts, category id, village id) rows; best first, ties by newer."""
    qvec = term_weights(query, idfs)
    qnorm = vector_norm(qvec)
    found = []
    for issue_id, counts, doc_category, doc_village in docs:
        dvec = term_weights(counts)
        dnorm = vector_norm(dvec)
        dot = math.fsum(w * dvec[t] for t, w in qvec.items() if t in dvec)
        cos = min(1.0, dot / (qnorm * dnorm)) if dot else 0.0
        same_village = village_id is not None and doc_village == village_id
        same_category = category_id is not None and doc_category == category_id
        score = _score(cos, same_category, same_village)
        if score >= min_score and score > 0:
            found.append(Similar(issue_id, score, same_village))
    found.sort(key=lambda s: (-s.score, -s.issue_id))
    return found[:limit]


# -- index maintenance -------------------------------------------------------------------------

_COLUMNS = ("issue_id", "town_id_value", "village_id_value", "term", "count")


def _rows(issue: Issue) -> list[tuple[int, int, int, str, int]]:
    """The index rows of one issue, as ``_COLUMNS`` tuples: none unless it is open."""
    if issue.status not in OPEN_STATES or issue.town_id is None:
        return []
    town, village = issue.town_id, issue.village_id or 0
    return [
        (issue.pk, town, village, term, min(count, MAX_COUNT))
        for term, count in terms(issue_text(issue)).items()
    ]


def _insert_rows(rows: Sequence[tuple[int, int, int, str, int]]) -> None:
    """COPY on PostgreSQL, one executemany on SQLite: building an ``IssueTerm`` per row for
    ``bulk_create`` took longer than the database at the millions of rows of a county."""
    if not rows:
        return
    table = connection.ops.quote_name(IssueTerm._meta.db_table)
    columns = ", ".join(_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608
            cursor.executemany(sql, rows)


def index_issue(issue: Issue, *, new: bool = False) -> int:
    """Replace the issue's index rows (none unless it is open); returns how many it has now.
    ``new``: the issue was just written and has no rows to replace."""
    if not new:
        IssueTerm.objects.filter(issue_id=issue.pk).delete()
    rows = _rows(issue)
    _insert_rows(rows)
    return len(rows)


def unindex_issue(issue_id: int) -> None:
    """Drop the issue from the index (closed, merged, deleted)."""
    IssueTerm.objects.filter(issue_id=issue_id).delete()


def sync_index(issue: Issue) -> None:
    """Bring the index in line with the issue's status and text; call after every change."""
    if issue.status in OPEN_STATES:
        index_issue(issue)
    else:
        unindex_issue(issue.pk)


def index_issues_bulk(issues: Iterable[Issue], batch_size: int = 5000) -> int:
    """Index many issues: per batch one DELETE of their old rows and one COPY/executemany, no
    per-issue query. Needs ``pk``, ``title``, ``description``, ``status``, ``town_id`` and
    ``village_id``. Returns the number of rows written."""
    written = 0
    batch: list[Issue] = []

    def flush() -> int:
        IssueTerm.objects.filter(issue_id__in=[i.pk for i in batch]).delete()
        rows = [row for issue in batch for row in _rows(issue)]
        _insert_rows(rows)
        batch.clear()
        return len(rows)

    with transaction.atomic():
        for issue in issues:
            batch.append(issue)
            if len(batch) >= batch_size:
                written += flush()
        if batch:
            written += flush()
    return written


def reindex_all(*, batch_size: int = 5000) -> int:
    """Rebuild the whole index from the open issues in one transaction; returns the rows."""
    with transaction.atomic():
        IssueTerm.objects.all().delete()
        issues = (
            Issue.objects.open()
            .order_by()
            .only("id", "title", "description", "status", "town_id", "village_id")
            .iterator(chunk_size=batch_size)
        )
        return index_issues_bulk(issues, batch_size=batch_size)


# -- lookup ------------------------------------------------------------------------------------


def similar_issues(
    *,
    text: str,
    category_id: int | None,
    village_id: int | None,
    town_id: int,
    exclude_ids: Iterable[int] = (),
    limit: int = 5,
    min_score: float = MIN_SCORE,
) -> list[Similar]:
    """Open issues of the same town most like ``text``, best first (see the module docstring)."""
    query = terms(text)
    if not query or limit <= 0:
        return []
    df = dict(
        IssueTerm.objects.filter(town_id_value=town_id, term__in=list(query))
        .order_by()
        .values("term")
        .annotate(n=Count("*"))
        .values_list("term", "n")
    )
    n = Issue.objects.filter(town_id=town_id, status__in=OPEN_STATES).count()
    idfs = {t: idf(df.get(t, 0), n) for t in query}
    weights = term_weights(query, idfs)
    selecting = _selecting(weights, df, n, min_score)
    if not selecting:
        return []
    candidates = _candidates(
        town_id, {t: weights[t] for t in selecting}, sorted(set(exclude_ids)), CANDIDATES
    )
    return rank(
        _vectors(candidates),
        query=query,
        idfs=idfs,
        category_id=category_id,
        village_id=village_id,
        limit=limit,
        min_score=min_score,
    )


def _selecting(
    weights: Mapping[str, float], df: Mapping[str, int], n: int, min_score: float
) -> list[str]:
    """The query terms whose postings are read for candidates: every term that is not common,
    then common ones, rarest first, until the rest of the query vector is shorter than
    ``max(min_score, COMMON_REACH)`` of its length. By Cauchy–Schwarz an issue sharing only the
    rest has a cosine below that, so what the long postings of words like 希望/解决 could add
    is bounded, and only such weak matches can be missed."""
    common = max(COMMON_FLOOR, int(COMMON_SHARE * n))
    present = sorted((t for t in weights if df.get(t)), key=lambda t: (df[t], -weights[t], t))
    rest = math.fsum(weights[t] ** 2 for t in present)
    bound = max(min_score, COMMON_REACH) ** 2 * math.fsum(w * w for w in weights.values())
    selecting = []
    for t in present:
        if df[t] > common and rest < bound:
            break
        selecting.append(t)
        rest -= weights[t] ** 2
    return sorted(selecting, key=lambda t: (-weights[t], t))[:MAX_QUERY_TERMS]


def _candidates(
    town_id: int, weights: Mapping[str, float], exclude: Sequence[int], k: int
) -> list[int]:
    """Issue ids with the highest Σ weight over the postings of the weighted terms."""
    table = connection.ops.quote_name(IssueTerm._meta.db_table)
    # Typed weights: PostgreSQL would add untyped literals up as numeric, several times slower.
    cases = " ".join(["WHEN %s THEN CAST(%s AS DOUBLE PRECISION)"] * len(weights))
    marks = ", ".join(["%s"] * len(weights))
    params: list[str | float | int] = [v for t, w in weights.items() for v in (t, w)]
    params += [town_id, *weights]
    not_in = ""
    if exclude:
        not_in = f" AND issue_id NOT IN ({', '.join(['%s'] * len(exclude))})"
        params += exclude
    params.append(k)
    sql = (
        f"SELECT issue_id, SUM(CASE term {cases} ELSE 0 END) AS s FROM {table}"  # noqa: S608
        f" WHERE town_id_value = %s AND term IN ({marks}){not_in}"
        " GROUP BY issue_id ORDER BY s DESC, issue_id DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _vectors(issue_ids: Sequence[int]) -> list[tuple[int, dict[str, int], int, int]]:
    """(issue id, term counts, category id, village id) of the given issues that are open."""
    if not issue_ids:
        return []
    terms_table = connection.ops.quote_name(IssueTerm._meta.db_table)
    issue_table = connection.ops.quote_name(Issue._meta.db_table)
    states = sorted(OPEN_STATES)
    ids = ", ".join(["%s"] * len(issue_ids))
    # The ids on both sides: else PostgreSQL hashes every open issue to join 60 of them.
    sql = (
        "SELECT t.issue_id, t.term, t.count, i.category_id, t.village_id_value"  # noqa: S608
        f" FROM {terms_table} t JOIN {issue_table} i ON i.id = t.issue_id"
        f" WHERE t.issue_id IN ({ids}) AND i.id IN ({ids})"
        f" AND i.status IN ({', '.join(['%s'] * len(states))})"
    )
    vectors: dict[int, tuple[int, dict[str, int], int, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*issue_ids, *issue_ids, *states])
        for issue_id, term, count, category, village in cursor.fetchall():
            if issue_id not in vectors:
                vectors[issue_id] = (issue_id, {}, category, village)
            vectors[issue_id][1][term] = count
    return list(vectors.values())


def similar_to_issue(issue: Issue, limit: int = 5, min_score: float = MIN_SCORE) -> list[Similar]:
    """Open issues like an existing one (for the dispatcher's merge), without itself and the
    issues already merged into it."""
    if issue.town_id is None:
        return []
    merged = Issue.objects.filter(merged_into=issue).values_list("id", flat=True)
    return similar_issues(
        text=issue_text(issue),
        category_id=issue.category_id,
        village_id=issue.village_id,
        town_id=issue.town_id,
        exclude_ids=[issue.pk, *merged],
        limit=limit,
        min_score=min_score,
    )


def guess_category(text: str, *, town_id: int, village_id: int | None = None) -> int | None:
    """A category for a problem nobody classified: see ``categorise.guess_category`` (alike
    issues first, then the categories' words). Kept here for the callers that import it."""
    from minqing.issues.categorise import guess_category as guess

    return guess(text, town_id=town_id, village_id=village_id)
