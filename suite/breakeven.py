"""Break-even density: where a sparse kernel stops beating dense, with a bootstrap interval.

From a density sweep (ok rows of one system on one device, one shape: every instance
parameter but ``pattern`` equal, one pattern kind: N:M, unstructured or block), the
break-even density is where the speedup over dense first falls to 1.0 going up from the
sparsest swept density: log(speedup) is interpolated linearly in log(density) between the
two points that bracket 1.0. Where no point falls to 1.0 the kernel beats dense at every
swept density (the break-even lies above the sweep); where the sparsest point already
loses it lies below it. The 95 % interval resamples every point's raw samples with its
interleaved dense baseline's (``suite.uncertainty.ratio_draws``: whole rounds, paired),
recomputes the crossing per draw and takes the 2.5 / 97.5 percentiles; a bound outside
the sweep reads ``< lowest`` or ``> highest``. Points of one density (1:4 and 2:8) are
merged by the geometric mean of their speedups. A sweep needs two densities or more.
INVALID rows (``suite.reassess``: a noisy machine, a wide spread) are left out; where that
leaves fewer than two densities the sweep is taken from every row and marked INVALID (as
the leaderboard shows an all-INVALID run: shown, not to be quoted).

Main entries: ``breakevens(frame, family="spmm") -> list[BreakEven]``,
``breakeven_markdown(found)``, ``write_breakeven(frame, run_dir) -> list[Path]``
(``breakeven.md``, only where a sweep exists) and ``draw_bands(ax, found, colors)``
(the interval as a band, the estimate as a line, on a speedup-vs-density panel).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from suite import uncertainty

FILE = "breakeven.md"
KINDS = ("N:M", "unstructured", "block")
MIN_POINTS = 2


@dataclass(frozen=True)
class Point:
    """One swept density: the recorded speedup and its bootstrap draws."""

    density: float
    speedup: float
    draws: np.ndarray
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class BreakEven:
    """One sweep's break-even density (``estimate``; 0.0: below the sweep, inf: above it)
    and its interval ``(low, high)`` on the same scale."""

    system: str
    device: str
    device_kind: str
    pattern_kind: str
    shape: dict
    points: tuple[Point, ...]
    estimate: float
    interval: tuple[float, float]
    invalid: bool = False

    @property
    def densities(self) -> list[float]:
        return [p.density for p in self.points]

    @property
    def crosses(self) -> bool:
        return 0.0 < self.estimate < math.inf

    def estimate_text(self) -> str:
        if self.estimate == math.inf:
            return f"beats dense at every swept density ≤ {self.densities[-1]:.3g}"
        if self.estimate == 0.0:
            beats = [p.density for p in self.points if p.speedup > 1.0]
            if not beats:
                swept = f"{self.densities[0]:.3g}–{self.densities[-1]:.3g}"
                return f"never beats dense (swept {swept})"
            return (f"loses at the sparsest swept density {self.densities[0]:.3g} "
                    f"(beats dense at {', '.join(f'{d:.3g}' for d in beats)})")
        return f"{self.estimate:.3g}"

    def interval_text(self) -> str:
        low, high = self.interval
        return f"[{self._bound(low)}, {self._bound(high)}]"

    def _bound(self, value: float) -> str:
        if value == 0.0:
            return f"< {self.densities[0]:.3g}"
        if value == math.inf:
            return f"> {self.densities[-1]:.3g}"
        return f"{value:.3g}"


def crossing(densities, speedups) -> np.ndarray:
    """Break-even density of each column of ``speedups`` (points x draws, densities
    ascending): where log speedup first falls to 0, interpolated in log density between
    the bracketing points; 0.0 where the first point already loses, inf where none does."""
    logd = np.log(np.asarray(densities, dtype=float))
    logs = np.log(np.atleast_2d(np.asarray(speedups, dtype=float).T).T)
    loses = logs <= 0.0
    first = loses.argmax(axis=0)
    cols = np.arange(logs.shape[1])
    prev = np.maximum(first - 1, 0)
    above, below = logs[prev, cols], logs[first, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(above > below, above / (above - below), 1.0)
    found = np.exp(logd[prev] + t * (logd[first] - logd[prev]))
    found = np.where(first == 0, 0.0, found)
    return np.where(loses.any(axis=0), found, np.inf)


def breakevens(frame: pd.DataFrame, family: str = "spmm") -> list[BreakEven]:
    """Every sweep of ``family`` in ``frame`` (a report frame, ``suite.frames``) with at
    least two densities, sorted by device, shape (in the run's order), pattern kind and
    system."""
    rows = _sweep_rows(frame, family)
    if rows.empty:
        return []
    order = {shape: i for i, shape in enumerate(dict.fromkeys(rows.shape_json))}
    found = []
    for (system, device, kind, shape), part in rows.groupby(
            ["system", "device", "pattern_kind", "shape_json"], sort=False):
        points, invalid = _points(part[~part.invalid]), False
        if len(points) < MIN_POINTS:
            points, invalid = _points(part), bool(part.invalid.any())
        if len(points) >= MIN_POINTS:
            found.append(_breakeven(system, device, kind, json.loads(shape), points, invalid))
    return sorted(found, key=lambda b: (b.device, order[json.dumps(b.shape, sort_keys=True)],
                                        KINDS.index(b.pattern_kind), b.system))


def _sweep_rows(frame: pd.DataFrame, family: str) -> pd.DataFrame:
    if frame.empty or "density" not in frame:
        return frame.iloc[0:0]
    keep = ((frame.family == family) & (frame.status == "ok")
            & ~frame.is_baseline.astype(bool) & frame.pattern_kind.isin(KINDS)
            & frame.density.notna() & frame.speedup.notna())
    rows = frame[keep].copy()
    rows["invalid"] = (rows.verdict.fillna("") == "INVALID" if "verdict" in rows
                       else False)
    rows["shape_json"] = rows.params.apply(lambda p: json.dumps(
        {k: v for k, v in (p or {}).items() if k != "pattern"}, sort_keys=True))
    return rows


def _points(part: pd.DataFrame) -> list[Point]:
    """One point per density (to 4 significant digits), ascending; rows without raw
    samples of both sides are left out."""
    by_density: dict[float, list] = {}
    for i, (_, row) in enumerate(part.iterrows()):
        draws = uncertainty.ratio_draws(row.baseline_samples_s or [], row.samples_s or [],
                                        seed=uncertainty.SEED + i)
        if draws is None or not row.speedup > 0:
            continue
        key = float(f"{float(row.density):.4g}")
        by_density.setdefault(key, []).append((float(row.speedup), draws,
                                               str(row.params.get("pattern"))))
    return [_merged(d, by_density[d]) for d in sorted(by_density)]


def _merged(density: float, found: list) -> Point:
    speedup = float(np.exp(np.mean([np.log(s) for s, _, _ in found])))
    draws = np.exp(np.mean(np.log(np.vstack([d for _, d, _ in found])), axis=0))
    return Point(density, speedup, draws, tuple(p for _, _, p in found))


def _breakeven(system: str, device: str, kind: str, shape: dict,
               points: list[Point], invalid: bool) -> BreakEven:
    densities = [p.density for p in points]
    estimate = float(crossing(densities, [[p.speedup] for p in points])[0])
    draws = crossing(densities, np.vstack([p.draws for p in points]))
    tail = (1.0 - uncertainty.LEVEL) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail], method="inverted_cdf")
    return BreakEven(system, device, device.partition(":")[0], kind, shape, tuple(points),
                     estimate, (float(low), float(high)), invalid)


def breakeven_markdown(found: list[BreakEven]) -> str:
    common = _common_params(found)
    out = ["# Break-even density: where each kernel stops beating dense", "",
           "Per system x device x shape x pattern kind, from the run's density sweep: the "
           "density at which the speedup over dense (median times, same run, interleaved) "
           "first falls to 1.0 going up from the sparsest point, log(speedup) interpolated "
           "linearly in log(density) between the two bracketing points. 95 % interval: "
           f"{uncertainty.RESAMPLES} bootstrap draws of every point (rounds resampled, "
           "paired with the dense baseline), the crossing recomputed per draw; `< x` / "
           "`> x`: the bound lies outside the sweep. Points used: density → speedup.", ""]
    if common:
        out += ["Every row: " + ", ".join(f"{k}={_value(v)}" for k, v in common.items()) + ".",
                ""]
    table = pd.DataFrame([{
        "kernel": b.system, "device": b.device, "shape": _shape_text(b.shape, common),
        "pattern kind": b.pattern_kind,
        "break-even density": b.estimate_text() + (" INVALID" if b.invalid else ""),
        "95 % CI": b.interval_text(),
        "points used": f"{len(b.points)}: " + ", ".join(
            f"{p.density:.3g}→{p.speedup:.2f}x" for p in b.points)} for b in found])
    out += [table.to_markdown(index=False) if not table.empty else "(no density sweep)", ""]
    if any(b.invalid for b in found):
        out += ["INVALID: every sweep so marked has fewer than two densities whose rows the "
                "run kept valid (`suite.reassess`: other load on the machine, wide spread; "
                "reasons per row in results.csv), so it is taken from INVALID rows: shown, "
                "not to be quoted.", ""]
    return "\n".join(out)


def _common_params(found: list[BreakEven]) -> dict:
    if len(found) < 2:
        return {}
    first = found[0].shape
    return {k: v for k, v in first.items() if all(b.shape.get(k) == v for b in found)}


def _shape_text(shape: dict, common: dict) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in shape.items() if k not in common) or "-"


def _value(value) -> str:
    return "x".join(str(v) for v in value) if isinstance(value, list) else str(value)


def write_breakeven(frame: pd.DataFrame, run_dir: Path) -> list[Path]:
    """``breakeven.md`` in ``run_dir`` where the run has an SpMM density sweep, else nothing."""
    found = breakevens(frame)
    if not found:
        return []
    path = Path(run_dir) / FILE
    path.write_text(breakeven_markdown(found))
    return [path]


def draw_bands(ax, found: list[BreakEven], colors: dict) -> None:
    """On one speedup-vs-density panel: each crossing sweep's interval as a band (hatched
    where INVALID) and its estimate as a dotted line, in its system's colour; bounds
    outside the sweep are clipped to the axis."""
    left, right = ax.get_xlim()
    for b in found:
        if not b.crosses or b.system not in colors:
            continue
        low = left if b.interval[0] == 0.0 else max(b.interval[0], left)
        high = right if b.interval[1] == math.inf else min(b.interval[1], right)
        if b.invalid:
            ax.axvspan(low, high, facecolor="none", edgecolor=colors[b.system], hatch="/",
                       alpha=0.3, linewidth=0, zorder=0)
        else:
            ax.axvspan(low, high, color=colors[b.system], alpha=0.12, linewidth=0, zorder=0)
        ax.axvline(b.estimate, color=colors[b.system], linestyle=":", linewidth=1.2,
                   zorder=1)
    ax.set_xlim(left, right)
