"""How sure a measured ratio is: bootstrap intervals, Mann-Whitney, relative spread.

Samples of an interleaved group are paired by round (``suite.measure``: every system takes
one sample per round, in the same order), so a speedup's interval resamples whole rounds:
the baseline's and the system's sample of one round stay together, and drift that hits
both cancels. Where the two lists differ in length (a system stopped early, a baseline
timed beside another system) they are resampled independently. Main entries:
``ratio_interval(baseline_s, system_s) -> (low, high)`` (the ratio of medians, percentile
bootstrap, seeded so a record's interval is reproducible), ``round_ratios`` (the per-round
ratios, the raw samples a comparison tests), ``mann_whitney_p(a, b)`` and
``relative_spread(samples)`` (IQR / median).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LEVEL = 0.95
RESAMPLES = 2000
SEED = 20261125


def ratio_interval(baseline_s: Sequence[float], system_s: Sequence[float],
                   level: float = LEVEL, resamples: int = RESAMPLES,
                   seed: int = SEED) -> tuple[float, float] | None:
    """A ``level`` interval of median(baseline) / median(system); None without samples.

    Paired (whole rounds resampled) where both lists are equally long, else independent.
    With one sample each the interval is the point itself.
    """
    draws = ratio_draws(baseline_s, system_s, resamples, seed)
    return None if draws is None else _percentiles(draws, level)


def ratio_draws(baseline_s: Sequence[float], system_s: Sequence[float],
                resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray | None:
    """``resamples`` bootstrap draws of median(baseline) / median(system) (see above)."""
    base, mine = _clean(baseline_s), _clean(system_s)
    if base.size == 0 or mine.size == 0:
        return None
    rng = np.random.default_rng(seed)
    if base.size == mine.size:
        rows = rng.integers(0, base.size, size=(resamples, base.size))
        return np.median(base[rows], axis=1) / np.median(mine[rows], axis=1)
    return (np.median(base[rng.integers(0, base.size, (resamples, base.size))], axis=1)
            / np.median(mine[rng.integers(0, mine.size, (resamples, mine.size))], axis=1))


def geomean_interval(pairs: Sequence[tuple[Sequence[float], Sequence[float]]],
                     level: float = LEVEL) -> tuple[float, float] | None:
    """Interval of the geometric mean of several rows' ratios: each bootstrap draw takes
    one draw of every row (``pairs``: (baseline samples, system samples) per row)."""
    draws = [d for d in (ratio_draws(b, s, seed=SEED + i) for i, (b, s) in enumerate(pairs))
             if d is not None]
    if not draws:
        return None
    return _percentiles(np.exp(np.mean(np.log(np.vstack(draws)), axis=0)), level)


def _percentiles(draws: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return float(low), float(high)


def round_ratios(baseline_s: Sequence[float], system_s: Sequence[float]) -> list[float]:
    """Per-round speedups ``baseline[i] / system[i]`` over the rounds both have."""
    base, mine = _clean(baseline_s), _clean(system_s)
    n = min(base.size, mine.size)
    return (base[:n] / mine[:n]).tolist()


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U p-value that ``a`` and ``b`` come from one distribution.

    1.0 where either side has fewer than 2 values (nothing can be told apart).
    """
    from scipy.stats import mannwhitneyu

    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return 1.0
    if np.array_equal(np.unique(x), np.unique(y)) and np.unique(x).size == 1:
        return 1.0
    return float(mannwhitneyu(x, y, alternative="two-sided").pvalue)


def relative_spread(samples: Sequence[float]) -> float | None:
    """IQR / median of the samples (0.1 = the middle half spans 10 % of the median)."""
    a = _clean(samples)
    if a.size == 0:
        return None
    median = float(np.median(a))
    if median <= 0:
        return None
    p25, p75 = np.percentile(a, [25, 75])
    return float(p75 - p25) / median


def repeat_spread(samples: Sequence[float], period: int) -> float | None:
    """The noise in samples that rotate over ``period`` different inputs (per_query: one
    query per sample): sample i and i + period timed the same query, so the spread of all
    of them mixes query difficulty with noise. This is the median over queries of each
    one's IQR / median across its repeats; the plain spread where no query has 4 repeats."""
    a = np.asarray(list(samples), dtype=float)
    if period <= 1 or a.size < 4 * period:
        return relative_spread(samples)
    spreads = [relative_spread(a[q::period].tolist()) for q in range(period)]
    spreads = [s for s in spreads if s is not None]
    return float(np.median(spreads)) if spreads else relative_spread(samples)


def disjoint(first: Sequence[float] | None, second: Sequence[float] | None) -> bool:
    """Do two ``[low, high]`` intervals not overlap? False where either is unknown."""
    if not _interval(first) or not _interval(second):
        return False
    return first[1] < second[0] or second[1] < first[0]


def _interval(pair) -> bool:
    return (isinstance(pair, (list, tuple)) and len(pair) == 2
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in pair))


def _clean(values: Sequence[float]) -> np.ndarray:
    a = np.asarray([v for v in (values or []) if v is not None], dtype=float)
    return a[np.isfinite(a) & (a > 0)]
