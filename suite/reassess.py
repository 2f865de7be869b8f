"""A record re-read with what the whole run knows, before any table shows it.

A record's roofline fraction, S-MFU and S-MBU were taken against the device peaks known
when it was written; the run keeps re-measuring them (``suite.execute``), and a peak read
in a slow moment once made dense rows show 231 % of the roofline. Reports therefore take
each figure again against the run's best peaks (``env.json``), fill in what an older
record lacks from its raw samples (intervals, spreads), and judge each row again
(``suite.noise.judge``). Main entry: ``reassess(row, peaks) -> row`` on a record's dict.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from suite import metrics, noise, uncertainty
from suite.devices import Peaks

ENV_FILE = "env.json"


def best_peaks(run_dir: Path) -> dict[str, dict[str, float]]:
    """Device -> the best ``flops_per_s``, ``bytes_per_s``, ``cache_bytes_per_s`` and
    ``l2_bytes_per_s`` the run measured, and its ``cache_bytes`` / ``l2_bytes`` ({} if none)."""
    try:
        env = json.loads((run_dir / ENV_FILE).read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, dict[str, float]] = {}
    readings = dict(env.get("peak_readings") or {})
    for device, peak in (env.get("peaks") or {}).items():
        readings.setdefault(device, []).append(peak)
    for segment in env.get("segments") or []:
        for device, peak in (segment.get("peaks") or {}).items():
            readings.setdefault(device, []).append(peak)
    for device, items in readings.items():
        for key in ("flops_per_s", "bytes_per_s", "cache_bytes_per_s", "cache_bytes",
                    "l2_bytes_per_s", "l2_bytes"):
            values = [p.get(key) for p in items if isinstance(p, dict) and _positive(p.get(key))]
            if values:
                found.setdefault(device, {})[key] = max(values)
    return found


def reassess(row: dict[str, Any], peaks: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The row (a record's dict) with best-peak figures, intervals, spreads and a verdict."""
    _roofline(row, peaks.get(row.get("device") or "", {}))
    _intervals(row)
    row["verdict"], row["verdict_reasons"] = noise.judge(row)
    return row


def _roofline(row: dict[str, Any], best: dict[str, float]) -> None:
    flops, bytes_ = best.get("flops_per_s"), best.get("bytes_per_s")
    used = row.get("peaks") or {}
    if not (_positive(flops) and _positive(bytes_)) or not _positive(row.get("median_s")):
        return
    if row.get("roofline_fraction") is None and not used:
        return  # no roofline was taken (a failed row, a simulated device without peaks)
    # the row's own reading merged with the run's best, figure by figure (method: the row's)
    run_best = Peaks.from_dict({**best, "method": used.get("method", "")})
    peaks = Peaks.from_dict(used).merged(run_best)
    time_s = row["median_s"]
    work = row.get("flops_executed") or row.get("flops_useful")
    moved = row.get("bytes_format")
    if _positive(work) and moved is not None:
        row["roofline_floor_s"] = metrics.roofline_floor_s(work, moved, peaks.flops_per_s,
                                                           peaks.bandwidth_for(moved))
        row["roofline_fraction"] = row["roofline_floor_s"] / time_s
    if _positive(row.get("flops_useful")):
        row["s_mfu"] = metrics.s_mfu(row["flops_useful"], time_s, peaks.flops_per_s)
    if row.get("bytes_activated") is not None:
        row["s_mbu"] = metrics.s_mbu(row["bytes_activated"], time_s, peaks.bytes_per_s)
    row["peaks"] = {**used, **{k: v for k, v in peaks.as_dict().items() if v is not None}}


def _intervals(row: dict[str, Any]) -> None:
    """Intervals and spreads an older record did not store, from its raw samples."""
    if row.get("status") != "ok" or not row.get("samples_s"):
        return
    row["noise"] = dict(row.get("noise") or {})
    row["noise"].setdefault("spread", uncertainty.relative_spread(row["samples_s"]))
    base = row.get("baseline_samples_s") or []
    if base:
        row["noise"].setdefault("baseline_spread", uncertainty.relative_spread(base))
    if not row.get("speedup_ci") and base and row.get("speedup") is not None:
        found = uncertainty.ratio_interval(base, row["samples_s"])
        row["speedup_ci"] = list(found) if found else []
    rank = row.get("rank_baseline_samples_s") or []
    if not row.get("speedup_vs_rank_baseline_ci") and rank:
        found = uncertainty.ratio_interval(rank, row["samples_s"])
        row["speedup_vs_rank_baseline_ci"] = list(found) if found else []
    row["ci_level"] = row.get("ci_level") or uncertainty.LEVEL


def _positive(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)
