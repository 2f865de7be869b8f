"""Derived metrics: sample summaries, throughput, roofline, S-MFU / S-MBU, speedup, cost.

Pure functions of numbers, so they are easy to check by hand. S-MFU and S-MBU follow
MoE-CAP: FLOPs and bytes counted over the parameters and activations actually activated
(non-zero weights, routed experts), divided by time and by the device's measured peaks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def summarize(samples_s: Sequence[float]) -> dict[str, float]:
    """Median (= p50), p10, p90, p99, IQR (p75 - p25), mean and count of times in seconds."""
    if not samples_s:
        return {"median_s": math.nan, "p10_s": math.nan, "p50_s": math.nan, "p90_s": math.nan,
                "p99_s": math.nan, "iqr_s": math.nan, "mean_s": math.nan, "n": 0}
    a = np.asarray(samples_s, dtype=float)
    p10, p25, p50, p75, p90, p99 = np.percentile(a, [10, 25, 50, 75, 90, 99])
    return {"median_s": float(p50), "p10_s": float(p10), "p50_s": float(p50),
            "p90_s": float(p90), "p99_s": float(p99), "iqr_s": float(p75 - p25),
            "mean_s": float(a.mean()), "n": int(a.size)}


def s_mfu(flops_activated: float, time_s: float, peak_flops_per_s: float) -> float:
    """Sparse model FLOPs utilization = activated FLOPs / time / peak FLOP/s (MoE-CAP)."""
    return flops_activated / time_s / peak_flops_per_s


def s_mbu(bytes_activated: float, time_s: float, peak_bytes_per_s: float) -> float:
    """Sparse memory bandwidth utilization = activated bytes / time / peak bytes/s (MoE-CAP)."""
    return bytes_activated / time_s / peak_bytes_per_s


def memory_level(bytes_moved: float, memory_bytes_per_s: float,
                 cache_bytes_per_s: float | None = None, cache_bytes: float | None = None,
                 l2_bytes_per_s: float | None = None,
                 l2_bytes: float | None = None) -> tuple[str, float]:
    """Where a working set of ``bytes_moved`` is read from and at what rate: the fastest
    level that holds it (``"L2"``: the cores' L2s within ``l2_bytes``; ``"cache"``: the
    last-level cache within ``cache_bytes``), else ``"memory"``. A benchmark calls its
    kernel on the same operands again and again, so a weight that fits stays in the cache
    between calls; judging it on DRAM bandwidth put dense decode rows "above" the floor
    (cache-aware roofline, Ilic et al. 2014)."""
    level = ("memory", memory_bytes_per_s)
    for name, rate, capacity in (("cache", cache_bytes_per_s, cache_bytes),
                                 ("L2", l2_bytes_per_s, l2_bytes)):
        if rate and capacity and bytes_moved <= capacity and rate > level[1]:
            level = (name, rate)
    return level


def bandwidth_for(bytes_moved: float, memory_bytes_per_s: float, *levels: float | None) -> float:
    """The read rate of ``memory_level`` (same arguments)."""
    return memory_level(bytes_moved, memory_bytes_per_s, *levels)[1]


def roofline_floor_s(flops: float, bytes_moved: float, peak_flops_per_s: float,
                     peak_bytes_per_s: float) -> float:
    """The least time the work can take: the larger of compute time and memory time."""
    return max(flops / peak_flops_per_s, bytes_moved / peak_bytes_per_s)


def roofline_fraction(time_s: float, flops: float, bytes_moved: float,
                      peak_flops_per_s: float, peak_bytes_per_s: float) -> float:
    """Floor time / achieved time: 1.0 means the kernel runs at the device's ceiling."""
    return roofline_floor_s(flops, bytes_moved, peak_flops_per_s, peak_bytes_per_s) / time_s


def speedup(baseline_median_s: float, median_s: float) -> float:
    """Dense baseline median / system median, both from the same interleaved run."""
    return baseline_median_s / median_s


def cost_usd_per_million_units(price_usd_per_hour: float, time_s: float, units: float) -> float:
    """Device price per hour x measured time, per million units of work."""
    return price_usd_per_hour / 3600.0 * time_s / units * 1e6
