"""The Pareto front keeps exactly the configs no other beats on speed, energy and area."""

from __future__ import annotations

import pandas as pd

from simulators.pareto import pareto_front


def frame(rows):
    return pd.DataFrame([{"config": name, "weights_nm": "2:4", "hw_sparsity": "2:4",
                          "speedup_vs_base": s, "energy_j": e, "area_total_mm2": a}
                         for name, s, e, a in rows])


def test_dominated_configs_drop_out_and_ties_stay_once():
    front = pareto_front(frame([
        ("fast-big", 4.0, 1.0, 10.0), ("slow-small", 1.0, 1.0, 2.0),
        ("beaten", 1.0, 2.0, 10.0),           # slower, hungrier, no smaller than fast-big
        ("frugal", 0.5, 0.2, 10.0),           # slowest but least energy: stays
        ("twin", 4.0, 1.0, 10.0),             # same numbers as fast-big: shown once
    ]))
    assert sorted(front["config"]) == ["fast-big", "frugal", "slow-small"]
    assert int(front.loc[front["config"] == "fast-big", "configs_alike"].iloc[0]) == 2


def test_a_thousand_random_configs_match_the_definition():
    import numpy as np

    rng = np.random.default_rng(0)
    data = frame([(str(i), *rng.random(3)) for i in range(1000)])
    front = set(pareto_front(data)["config"])
    values = data[["speedup_vs_base", "energy_j", "area_total_mm2"]].to_numpy()
    for i, (s, e, a) in enumerate(values):
        beats = ((values[:, 0] >= s) & (values[:, 1] <= e) & (values[:, 2] <= a)
                 & ((values[:, 0] > s) | (values[:, 1] < e) | (values[:, 2] < a)))
        assert (str(i) in front) == (not beats.any())
