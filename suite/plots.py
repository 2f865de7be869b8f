"""PNG plots of a run: speedup vs density per kernel, and the CAP radar (MoE-CAP style).

Main entries: ``speedup_vs_density(frame, out_dir, family)`` and
``cap_radar(frame, out_dir, family)``; both return the paths they wrote (none when the
records lack the figures the plot needs). The radar scores accuracy by the direction and
range the records state (``accuracy_scores``), so it needs nothing but ``records.jsonl``.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from suite.frames import MetricInfo, metric_info  # noqa: E402


def speedup_vs_density(frame: pd.DataFrame, out_dir: Path, family: str) -> list[Path]:
    """Speedup over dense against weight density, one line per system, log-log axes."""
    ok = frame[(frame.status == "ok") & frame.speedup.notna() & frame.density.notna()]
    ok = ok[~ok.is_baseline.astype(bool)]
    if ok.empty:
        return []
    fig, ax = plt.subplots(figsize=(9.5, 5))
    for system, part in ok.groupby("system"):
        by_density = part.groupby("density").speedup.median().sort_index()
        ax.plot(by_density.index, by_density.values, marker="o", label=system)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="dense baseline")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weight density (non-zero fraction)")
    ax.set_ylabel("speedup over dense on the same device (x)")
    ax.set_title(f"{family}: speedup vs density (median over shapes)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    path = out_dir / f"{family}_speedup_vs_density.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


RADAR_AXES = ("performance", "cost", "accuracy", "s_mfu", "s_mbu")


def radar_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per system, the geometric mean over its instances of each CAP figure (raw units).

    A family qualifies only when cost, accuracy and performance are all present.
    ``accuracy`` is the median of the primary metric's values, in the metric's own units.
    """
    ok = frame[frame.status == "ok"]
    ok = ok.dropna(subset=["throughput_units_per_s", "cost_usd_per_million_units",
                           "accuracy_value"])
    if ok.empty:
        return pd.DataFrame()
    return ok.groupby("system").agg(
        performance=("throughput_units_per_s", _geomean),
        cost=("cost_usd_per_million_units", _geomean),
        accuracy=("accuracy_value", "median"),
        s_mfu=("s_mfu", _geomean), s_mbu=("s_mbu", _geomean))


def radar_scores(summary: pd.DataFrame, metric: MetricInfo) -> pd.DataFrame:
    """Each CAP axis scaled to [0, 1], where 1 is best; accuracy by the metric's direction."""
    scores = pd.DataFrame(index=summary.index)
    scores["performance"] = summary.performance / summary.performance.max()
    scores["cost"] = summary.cost.min() / summary.cost
    scores["accuracy"] = accuracy_scores(summary.accuracy, metric)[0]
    for axis in ("s_mfu", "s_mbu"):
        top = summary[axis].max()
        scores[axis] = summary[axis] / top if top and top > 0 else 0.0
    return scores.fillna(0.0)


def accuracy_scores(values: pd.Series, metric: MetricInfo) -> tuple[pd.Series, str]:
    """Accuracy values to [0, 1] scores (1 best) by the recorded direction and range.

    Both bounds known: the position in the range. Lower-is-better without an upper bound
    (errors): ``1 - (value - low)``, clipped at 0. Higher-is-better without an upper bound:
    ``value / best``. No recorded direction: not scored (0). Returns the scores and the
    sentence the radar prints under the axis.
    """
    values = pd.to_numeric(values, errors="coerce")
    name, low, high = metric.name, metric.low, metric.high
    if not metric.known:
        return values * 0.0, "direction not recorded: not scored"
    if low is not None and high is not None and high > low:
        score = (values - low) / (high - low)
        text = f"{name} on its {low:g} to {high:g} range"
        if metric.direction == "lower":
            score, text = 1 - score, text + ", reversed"
    elif metric.direction == "lower":
        low = low or 0.0
        score = 1 - (values - low)
        text = f"1 - {name}" if low == 0 else f"1 - ({name} - {low:g})"
        text += ", clipped at 0"
    elif high is not None:
        score, text = 1 - (high - values), f"1 - ({high:g} - {name}), clipped at 0"
    else:
        best = values.max()
        score = values / best if best and best > 0 else values * 0.0
        text = f"{name} / best"
    return score.clip(0, 1), text


def _radar_labels(summary: pd.DataFrame, unit: str, metric: MetricInfo) -> list[str]:
    accuracy_text = accuracy_scores(summary.accuracy, metric)[1]
    return [f"Performance\n(best = {summary.performance.max():.3g} {unit}/s)",
            f"Cost efficiency\n(cheapest = {summary.cost.min():.3g} US$ per M {unit})",
            f"Accuracy\n({accuracy_text})",
            f"S-MFU\n(best = {summary.s_mfu.max():.2%} of peak FLOP/s)",
            f"S-MBU\n(best = {summary.s_mbu.max():.2%} of peak bandwidth)"]


def cap_radar(frame: pd.DataFrame, out_dir: Path, family: str) -> list[Path]:
    """The CAP radar of one family's rows, from the records alone (no registry lookups)."""
    summary = radar_summary(frame)
    if summary.empty:
        return []
    metric = metric_info(frame)
    scores = radar_scores(summary, metric)
    unit = str(frame.unit_name.dropna().iloc[0]) if frame.unit_name.notna().any() else "unit"
    angles = np.linspace(0, 2 * math.pi, len(RADAR_AXES), endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(8, 7), subplot_kw={"polar": True})
    for system, row in scores.iterrows():
        values = [float(row[key]) for key in RADAR_AXES]
        ax.plot(angles + angles[:1], values + values[:1], linewidth=1.5, label=system)
        ax.fill(angles + angles[:1], values + values[:1], alpha=0.08)
    ax.set_xticks(angles)
    ax.set_xticklabels(_radar_labels(summary, unit, metric), fontsize=8)
    ax.tick_params(axis="x", pad=14)
    ax.set_rlabel_position(180 / len(RADAR_AXES))  # ring labels between two axes
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0.25", "0.5", "0.75", "1"], fontsize=7)
    ax.set_title(f"{family}: CAP radar, each axis relative to the best system "
                 "(larger is better)", pad=24, fontsize=11)
    ax.legend(loc="upper right", bbox_to_anchor=(1.38, 1.12), fontsize=8)
    path = out_dir / f"{family}_cap_radar.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [path]


def _geomean(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").dropna()
    values = values[values > 0]
    return float(np.exp(np.log(values).mean())) if len(values) else math.nan
