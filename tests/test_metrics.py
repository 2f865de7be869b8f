"""Metrics by hand: percentiles, roofline, utilization, speedup and cost."""

from __future__ import annotations

import pytest

from suite import metrics


def test_summary_of_known_samples():
    s = metrics.summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["median_s"] == 3.0 and s["n"] == 5
    assert s["p10_s"] == pytest.approx(1.4) and s["p90_s"] == pytest.approx(4.6)
    assert s["iqr_s"] == pytest.approx(2.0)


def test_roofline_floor_is_the_slower_of_compute_and_memory():
    # 2 GFLOP at 100 GFLOP/s = 20 ms; 1 GB at 10 GB/s = 100 ms -> memory bound.
    assert metrics.roofline_floor_s(2e9, 1e9, 100e9, 10e9) == pytest.approx(0.1)
    assert metrics.roofline_fraction(0.2, 2e9, 1e9, 100e9, 10e9) == pytest.approx(0.5)


def test_sparse_utilizations_divide_activated_work_by_time_and_peak():
    assert metrics.s_mfu(5e9, 0.5, 100e9) == pytest.approx(0.1)
    assert metrics.s_mbu(2e9, 0.5, 20e9) == pytest.approx(0.2)


def test_speedup_and_cost():
    assert metrics.speedup(0.3, 0.1) == pytest.approx(3.0)
    # $3.60/h for 1 s is $0.001; over 1000 units that is $1 per million units.
    assert metrics.cost_usd_per_million_units(3.6, 1.0, 1000) == pytest.approx(1.0)
