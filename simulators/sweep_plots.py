"""Sweep figures a person can read: one per swept key, and heatmaps of two-axis grids.

Entry points: ``plot_key(frame, key, keys, out_dir, title)`` -> ``sweep_<key>.png`` and
``plot_heatmap(frame, pair, keys, out_dir, title)`` -> ``heatmap_<a>_x_<b>.png``. Each
point is the median over the other swept axes, with their min-max spread drawn (a band on
a numeric axis, bars on a categorical one, where no line joins categories); series are the
weights' pattern x the hardware's supported patterns, and the title names the workload and
the hardware. Cost: pandas group-bys over the result rows; matplotlib is imported here only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

METRICS = (("speedup_vs_dense", "speedup over the same array dense"),
           ("energy_ratio_vs_dense", "energy / the same array dense"),
           ("area_total_mm2", "area (mm$^2$)"))
AXES = ("weights_nm", "hw_sparsity")
AXIS_KEYS = {"nm": "weights_nm", "hw_sparsity": "hw_sparsity"}
MAX_SERIES = 8


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def numeric_values(values) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def ordered(values) -> list:
    """Unique values in numeric order when all are numbers, else in first-seen order."""
    unique = list(dict.fromkeys(values))
    numbers = numeric_values(unique)
    return [v for _, v in sorted(zip(numbers, unique, strict=True))] if numbers else unique


def _series(frame, key: str, keys: list[str]):
    """(label, rows) per weights x hardware pair, and the sweep axes pooled into the
    spread instead (when there are more than ``MAX_SERIES`` pairs)."""
    by = [a for a in AXES if a != AXIS_KEYS.get(key)]
    groups = list(frame.groupby(by, sort=False))
    if len(groups) > MAX_SERIES:
        pooled = [k for k in keys if k in AXIS_KEYS and k != key]
        return [("all weights x hardware pairs", frame)], pooled
    return [(_series_label(by, values), part) for values, part in groups], []


def _series_label(by: list[str], values) -> str:
    values = values if isinstance(values, tuple) else (values,)
    return " / ".join(f"{'weights' if a == 'weights_nm' else 'hw'} {v}"
                      for a, v in zip(by, values, strict=True))


def _others(key: str, keys: list[str], pooled: list[str]) -> str:
    rest = [k for k in keys if k != key and k not in AXIS_KEYS] + pooled
    return "min-max over " + ", ".join(rest) if rest else "one config per point"


def _draw(axis, stats, x, numeric: bool, label: str, offset: float) -> None:
    if numeric:
        axis.plot(x, stats["median"], marker="o", label=label)
        axis.fill_between(x, stats["min"], stats["max"], alpha=0.15)
        return
    low, high = stats["median"] - stats["min"], stats["max"] - stats["median"]
    axis.errorbar(np.arange(len(x)) + offset, stats["median"], yerr=[low, high], fmt="o",
                  capsize=3, label=label)


def plot_key(frame, key: str, keys: list[str], out_dir: Path, title: str) -> Path:
    plt = _pyplot()
    column = AXIS_KEYS.get(key, key)
    order = ordered(frame[column])
    numbers = numeric_values(order)
    series, pooled = _series(frame, key, keys)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(15, 4.4))
    for i, (label, part) in enumerate(series):
        offset = (i - (len(series) - 1) / 2) * 0.08
        for axis, (metric, _) in zip(axes, METRICS, strict=True):
            stats = part.groupby(column)[metric].agg(["median", "min", "max"]).reindex(order)
            _draw(axis, stats, numbers if numbers else order, bool(numbers), label, offset)
    for axis, (_, name) in zip(axes, METRICS, strict=True):
        _label_axis(axis, key, order, numbers, name)
    fig.suptitle(f"{title}\nmedian; spread: {_others(key, keys, pooled)}", fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, out_dir / f"sweep_{key}.png")


def _label_axis(axis, key: str, order: list, numbers, name: str) -> None:
    if numbers and min(numbers) > 0 and max(numbers) / min(numbers) >= 8:
        axis.set_xscale("log", base=2)
    if not numbers:
        axis.set_xticks(range(len(order)), [str(v) for v in order], rotation=30)
    axis.set_xlabel({"nm": "weights' N:M pattern", "hw_sparsity": "hardware's patterns"}
                    .get(key, key))
    axis.set_title(name, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)


def _save(plt, fig, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_heatmap(frame, pair: tuple[str, str], keys: list[str], out_dir: Path,
                 title: str) -> Path:
    plt = _pyplot()
    rows_key, cols_key = (AXIS_KEYS.get(k, k) for k in pair)
    rows, cols = ordered(frame[rows_key]), ordered(frame[cols_key])
    fig, axes = plt.subplots(1, 2, figsize=(6 + 0.9 * len(cols), 1.6 + 0.45 * len(rows)))
    for axis, (metric, name) in zip(axes, METRICS[:2], strict=True):
        grid = frame.pivot_table(index=rows_key, columns=cols_key, values=metric,
                                 aggfunc="median").reindex(index=rows, columns=cols)
        image = axis.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=axis, shrink=0.8)
        _annotate(axis, grid.to_numpy(dtype=float))
        axis.set_xticks(range(len(cols)), [str(c) for c in cols], rotation=30)
        axis.set_yticks(range(len(rows)), [str(r) for r in rows])
        axis.set_xlabel(pair[1])
        axis.set_ylabel(pair[0])
        axis.set_title(name, fontsize=10)
    rest = [k for k in keys if k not in pair]
    note = "median over " + ", ".join(rest) if rest else "one config per cell"
    fig.suptitle(f"{title}\n{note}", fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, out_dir / f"heatmap_{pair[0]}_x_{pair[1]}.png")


def _annotate(axis, values: np.ndarray) -> None:
    if values.size > 400:
        return
    for (i, j), value in np.ndenumerate(values):
        if value == value:
            axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w")
