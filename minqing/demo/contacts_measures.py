"""How good an assignment is, for the benchmark and the demo: the naive round-robin reference,
the liaisons' loads and the distance walked. Not the product: the assignment itself is
``minqing.contacts.engine.solve``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from minqing.contacts.engine import Problem, Solution, distances


def round_robin(problem: Problem) -> Solution:
    """The naive way (the benchmark's reference): deal households out in turn, in grid order."""
    n_h, n_l = len(problem.h_ids), len(problem.l_ids)
    choice = np.full(n_h, -1, dtype=np.int64)
    if n_l:
        order = np.argsort(problem.h_grid, kind="stable")
        choice[order] = np.arange(n_h) % n_l
    return Solution(choice=choice, cost=0)


@dataclass
class Quality:
    """How good an assignment is: its loads and the distance walked."""

    loads: np.ndarray
    metres: float

    @property
    def spread(self) -> float:
        """Largest load over the smallest (among liaisons), 1.0 when perfectly even."""
        if not len(self.loads):
            return 1.0
        low = int(self.loads.min())
        return float(self.loads.max()) / low if low else math.inf


def quality(problem: Problem, solution: Solution, fixed: np.ndarray | None = None) -> Quality:
    """Loads (including ``fixed`` links per liaison) and total household–liaison distance."""
    taken = solution.choice >= 0
    loads = np.bincount(solution.choice[taken], minlength=len(problem.l_ids)).astype(np.int64)
    if fixed is not None:
        loads = loads + fixed
    if not taken.any():
        return Quality(loads=loads, metres=0.0)
    metres = distances(problem)[np.nonzero(taken)[0], solution.choice[taken]]
    return Quality(loads=loads, metres=float(metres.sum()))
