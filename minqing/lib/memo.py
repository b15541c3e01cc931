"""A lookup memo for batch work: inside ``memoized()``, ``cached(key, compute)`` computes each
key once; outside, it always computes. Scoped by a context variable, so threads and nested
blocks do not share it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_memo: ContextVar[dict[Any, Any] | None] = ContextVar("issue_service_memo", default=None)


@contextmanager
def memoized() -> Iterator[None]:
    """Within the block, compute each ``cached`` key once.

    For batch work such as the deadline sweep, which notifies the same units many times over a
    few seconds and can live with what it read at its start; outside such a block every call
    reads the database afresh.
    """
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def cached(key: Any, compute: Callable[[], T]) -> T:
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]
