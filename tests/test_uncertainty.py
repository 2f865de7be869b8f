"""Intervals from raw samples: paired rounds, the ratio of medians, Mann-Whitney, spread."""

from __future__ import annotations

import numpy as np
import pytest

from suite import uncertainty


def noisy(center: float, spread: float, n: int, seed: int) -> list[float]:
    return list(center * (1 + spread * np.random.default_rng(seed).standard_normal(n)))


def test_the_interval_holds_the_true_ratio_of_medians():
    low, high = uncertainty.ratio_interval(noisy(2e-3, 0.05, 30, 1), noisy(1e-3, 0.05, 30, 2))
    assert low < 2.0 < high and high - low < 0.2


def test_paired_rounds_cancel_drift_that_hits_both():
    """A machine that slows down mid-run slows the baseline and the system alike."""
    drift = np.linspace(1.0, 3.0, 30)
    base, mine = list(2e-3 * drift), list(1e-3 * drift * (1 + 0.01 * np.sin(np.arange(30))))
    paired = uncertainty.ratio_interval(base, mine)
    unpaired = uncertainty.ratio_interval(base, mine[:-1])  # lengths differ: independent
    assert paired[1] - paired[0] < 0.1 < unpaired[1] - unpaired[0]


def test_intervals_are_reproducible_and_missing_without_samples():
    a, b = noisy(2e-3, 0.1, 10, 3), noisy(1e-3, 0.1, 10, 4)
    assert uncertainty.ratio_interval(a, b) == uncertainty.ratio_interval(a, b)
    assert uncertainty.ratio_interval([], b) is None
    assert uncertainty.ratio_interval([1.0], [0.5]) == (2.0, 2.0)


def test_the_geomean_interval_narrows_with_more_rows():
    one = uncertainty.geomean_interval([(noisy(2e-3, 0.1, 10, 5), noisy(1e-3, 0.1, 10, 6))])
    many = uncertainty.geomean_interval([(noisy(2e-3, 0.1, 10, s), noisy(1e-3, 0.1, 10, s + 50))
                                         for s in range(8)])
    assert many[0] < 2.0 < many[1] and many[1] - many[0] < one[1] - one[0]


def test_mann_whitney_tells_a_shift_from_the_same_distribution():
    same = uncertainty.mann_whitney_p(noisy(1.0, 0.05, 30, 7), noisy(1.0, 0.05, 30, 8))
    shifted = uncertainty.mann_whitney_p(noisy(1.0, 0.05, 30, 7), noisy(0.8, 0.05, 30, 8))
    assert same > 0.05 and shifted < 1e-6
    assert uncertainty.mann_whitney_p([1.0], [2.0, 3.0]) == 1.0


def test_relative_spread_and_round_ratios():
    assert uncertainty.relative_spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0 / 3.0)
    assert uncertainty.relative_spread([]) is None
    assert uncertainty.round_ratios([2.0, 4.0, 6.0], [1.0, 2.0]) == [2.0, 2.0]
    assert uncertainty.disjoint([1.0, 2.0], [2.5, 3.0])
    assert not uncertainty.disjoint([1.0, 2.0], [1.5, 3.0]) and not uncertainty.disjoint([], [1, 2])


def test_per_query_noise_is_each_querys_spread_across_repeats_not_the_mix_of_queries():
    from suite.uncertainty import relative_spread, repeat_spread

    costs = np.array([1.0, 2.0, 4.0, 8.0])  # four queries of very different cost
    jitter = 1 + 0.02 * np.random.default_rng(0).standard_normal(40)
    samples = list(np.tile(costs, 10) * jitter)  # timed in rotation, 10 repeats each
    assert relative_spread(samples) > 0.5  # the mix looks "noisy"
    assert repeat_spread(samples, 4) < 0.05  # each query repeats within ~2 %
    assert repeat_spread(samples[:8], 4) == relative_spread(samples[:8])  # too few repeats
