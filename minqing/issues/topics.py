"""Alike issues across places (一类事): groups proposed for a policy-level fix.

Uses the character n-gram TF-IDF of ``similarity.py`` over open and finished issues.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta

from django.utils import timezone

from minqing.issues.models import Issue, Status
from minqing.issues.similarity import idf, term_weights, terms, vector_norm
from minqing.org.models import subtree_q


def alike_groups(
    *,
    county_path: str,
    category_id: int | None = None,
    min_size: int = 3,
    threshold: float = 0.5,
    days: int = 90,
) -> list[list[int]]:
    """Groups of alike issues anywhere under ``county_path`` registered in the last ``days``
    (open and finished, not merged ones), for proposing topics (一类事).

    Two issues of the same category are linked when the cosine of their TF-IDF vectors (IDF on
    both sides, over the issues read; no place boost) is ≥ ``threshold``; groups are the
    connected components (single link) of at least ``min_size`` issues, largest first, ids
    ascending. Blocking by category matches ``Topic.category`` and keeps the pair search small;
    within a category, prefix filtering (``_groups``) compares an issue only with the issues
    sharing one of their rarest terms — exact, not O(n²).

    Limits: everything is read and split in Python, since finished issues are not in the
    ``IssueTerm`` index (≈ 0.1 ms per issue). The cost grows with how alike the texts are: on
    the template-made ``demo/issue_texts.fake_issue_texts`` corpus, where every category is a few
    hundred near-copies, 5,000 issues take ≈ 1 s and 20,000 ≈ 10 s of CPU at the default
    threshold — run it in the worker or cache it for the analysis page. Single link can chain
    two different problems through a text in between; a higher ``threshold`` splits them.
    """
    since = timezone.now() - timedelta(days=days)
    qs = Issue.objects.filter(subtree_q(county_path, "node_path"), created_at__gte=since).exclude(
        status=Status.MERGED
    )
    if category_id is not None:
        qs = qs.filter(category_id=category_id)
    ids: list[int] = []
    docs: list[Counter[str]] = []
    blocks: list[int] = []
    rows = qs.order_by("id").values_list("id", "title", "description", "category_id")
    for issue_id, title, description, category in rows.iterator(chunk_size=2000):
        counts = terms(f"{title}\n{description}")
        if counts:
            ids.append(issue_id)
            docs.append(counts)
            blocks.append(category)
    return _groups(ids, docs, blocks, min_size=min_size, threshold=threshold)


def _groups(
    ids: Sequence[int],
    docs: Sequence[Mapping[str, int]],
    blocks: Sequence[object],
    *,
    min_size: int,
    threshold: float,
) -> list[list[int]]:
    """Single-link groups of ``ids`` whose documents' TF-IDF cosine is ≥ ``threshold``, only
    ever linking documents of the same block (category).

    All-pairs search with prefix filtering (Bayardo et al., 2007): terms are ordered rarest
    first; a document's *prefix* is its terms up to where the rest could no longer contribute
    ``threshold`` to any cosine (bounded by the rest's length and by each term's largest weight
    anywhere). Two documents at or above the threshold share a term of the earlier one's
    prefix, so each document only meets the earlier documents holding one of its terms in their
    prefix — exact, and the prefixes are the rare terms, so the lists stay short.
    """
    n = len(docs)
    if n < max(2, min_size):
        return []
    df: Counter[str] = Counter(t for counts in docs for t in counts)
    idfs = {t: idf(c, n) for t, c in df.items()}
    vectors = []
    top: dict[str, float] = {}
    for counts in docs:
        vec = term_weights(counts, idfs)
        length = vector_norm(vec)
        vec = {t: w / length for t, w in vec.items()}
        vectors.append(vec)
        for t, w in vec.items():
            if w > top.get(t, 0.0):
                top[t] = w
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prefix_postings: dict[tuple[object, str], list[int]] = {}
    for i, vec in enumerate(vectors):
        block = blocks[i]
        seen: set[int] = set()
        for t in vec:
            for j in prefix_postings.get((block, t), ()):
                if j in seen:
                    continue
                seen.add(j)
                root_i, root_j = find(i), find(j)
                if root_i == root_j:
                    continue  # already linked through others: single link needs no more
                other = vectors[j]
                if sum(w * other[u] for u, w in vec.items() if u in other) >= threshold:
                    parent[max(root_i, root_j)] = min(root_i, root_j)
        rest_length, rest_reach = 1.0, sum(w * top[t] for t, w in vec.items())
        for t in sorted(vec, key=lambda t: (df[t], t)):
            if min(math.sqrt(max(rest_length, 0.0)), rest_reach) < threshold:
                break
            prefix_postings.setdefault((block, t), []).append(i)
            rest_length -= vec[t] ** 2
            rest_reach -= vec[t] * top[t]
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(ids[i])
    found = [sorted(g) for g in groups.values() if len(g) >= min_size]
    found.sort(key=lambda g: (-len(g), g[0]))
    return found
