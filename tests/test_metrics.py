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


def test_a_working_set_that_fits_the_cache_is_floored_on_the_cache_bandwidth():
    # 16 MB fits a 240 MB cache level read at 50 GB/s; 1 GB does not: DRAM's 30 GB/s.
    assert metrics.bandwidth_for(16e6, 30e9, 50e9, 240e6) == 50e9
    assert metrics.bandwidth_for(1e9, 30e9, 50e9, 240e6) == 30e9
    assert metrics.bandwidth_for(16e6, 30e9, None, None) == 30e9
    assert metrics.bandwidth_for(16e6, 30e9, 20e9, 240e6) == 30e9  # a slower "cache" never wins
    # 3 MB also fits the cores' 3.7 MB of L2, read at 200 GB/s: the fastest level that holds it
    assert metrics.bandwidth_for(3e6, 30e9, 50e9, 240e6, 200e9, 3.7e6) == 200e9
    assert metrics.bandwidth_for(16e6, 30e9, 50e9, 240e6, 200e9, 3.7e6) == 50e9


def test_reassess_takes_a_cache_resident_row_against_the_cache_peak():
    from suite.reassess import reassess

    def row(moved):
        return {"device": "cpu", "status": "ok", "median_s": 1e-3, "samples_s": [1e-3] * 5,
                "flops_executed": 1e6, "bytes_format": moved, "roofline_fraction": 0.5,
                "peaks": {"flops_per_s": 1e12, "bytes_per_s": 30e9}}
    best = {"cpu": {"flops_per_s": 1e12, "bytes_per_s": 30e9, "cache_bytes_per_s": 50e9,
                    "cache_bytes": 240e6}}
    small = reassess(row(40e6), best)  # 40 MB in 1 ms = 40 GB/s: above DRAM, below cache
    assert small["roofline_fraction"] == pytest.approx(0.8)
    assert small["verdict"] == "VALID"
    large = reassess(row(300e6), best)  # does not fit: judged on DRAM
    assert large["roofline_fraction"] == pytest.approx(10.0)
    assert large["verdict"] == "INVALID"


def test_the_memory_level_names_where_the_floor_reads_from():
    assert metrics.memory_level(3e6, 30e9, 50e9, 240e6, 200e9, 3.7e6) == ("L2", 200e9)
    assert metrics.memory_level(16e6, 30e9, 50e9, 240e6, 200e9, 3.7e6) == ("cache", 50e9)
    assert metrics.memory_level(1e9, 30e9, 50e9, 240e6, 200e9, 3.7e6) == ("memory", 30e9)


def test_peaks_read_back_from_an_older_env_file_keep_their_figures():
    from suite.devices import Peaks

    old = {"flops_per_s": 1e11, "bytes_per_s": 2e10, "method": "copy", "at": "2026-11-25"}
    peaks = Peaks.from_dict(old)  # no cache levels, an unknown key
    assert (peaks.flops_per_s, peaks.bytes_per_s, peaks.cache_bytes_per_s) == (1e11, 2e10, None)
    best = peaks.merged(Peaks(5e10, 3e10, "new", 5e10, 240e6))
    assert (best.flops_per_s, best.bytes_per_s, best.cache_bytes_per_s) == (1e11, 3e10, 5e10)
    assert best.memory_level(16e6) == ("cache", 5e10)
