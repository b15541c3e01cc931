"""The benchmark's measures of an assignment (round-robin, loads, distance)."""

import numpy as np

from minqing.contacts import engine
from minqing.demo import contacts_measures


def test_the_engine_against_round_robin_on_a_small_village():
    rng = np.random.default_rng(7)
    n_h, n_l = 300, 6
    h_grid = np.repeat(np.arange(6), 50)
    problem = engine.Problem(
        h_ids=np.arange(n_h),
        h_grid=h_grid,
        h_lat=33.8 + h_grid * 0.01 + rng.random(n_h) * 0.002,
        h_lon=np.full(n_h, 115.7),
        h_current=np.full(n_h, -1),
        h_match=np.zeros(n_h, dtype=np.int64),
        l_ids=np.arange(n_l),
        l_grid=np.arange(n_l),
        l_lat=33.8 + np.arange(n_l) * 0.01,
        l_lon=np.full(n_l, 115.7),
        l_category=np.full(n_l, -1),
        l_min=np.zeros(n_l, dtype=np.int64),
        l_max=np.full(n_l, 60),
    )
    solved = contacts_measures.quality(problem, engine.solve(problem))
    naive = contacts_measures.quality(problem, contacts_measures.round_robin(problem))
    assert solved.loads.tolist() == [50] * 6
    assert solved.metres < naive.metres / 5
