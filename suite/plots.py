"""PNG plots of a run: speedup vs density per kernel, and the CAP radar (MoE-CAP style).

Main entries: ``speedup_vs_density(frame, out_dir, family)`` and
``cap_radar(frame, out_dir, family)``; both return the paths they wrote (none when the
records lack the figures the plot needs).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def speedup_vs_density(frame: pd.DataFrame, out_dir: Path, family: str) -> list[Path]:
    """Speedup over dense against weight density, one line per system, log-log axes."""
    ok = frame[(frame.status == "ok") & frame.speedup.notna() & frame.density.notna()]
    ok = ok[~ok.is_baseline.astype(bool)]
    if ok.empty:
        return []
    fig, ax = plt.subplots(figsize=(7.5, 5))
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
    ax.legend(fontsize=8, loc="best")
    path = out_dir / f"{family}_speedup_vs_density.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


RADAR_AXES = (
    ("performance", "Performance\n(throughput, best = 1)"),
    ("cost", "Cost efficiency\n(cheapest US$/unit = 1)"),
    ("accuracy", "Accuracy\n(1 - error, clipped at 0)"),
    ("s_mfu", "S-MFU\n(best = 1)"),
    ("s_mbu", "S-MBU\n(best = 1)"),
)


def radar_scores(frame: pd.DataFrame, higher_is_better: bool = False) -> pd.DataFrame:
    """Per system, each CAP axis scaled to [0, 1] (1 = best system on that axis).

    Systems are summarised by the geometric mean over the instances they ran. A family
    qualifies only when cost, accuracy and performance are all present.
    """
    ok = frame[frame.status == "ok"]
    needed = ["throughput_units_per_s", "cost_usd_per_million_units", "accuracy_value"]
    ok = ok.dropna(subset=needed)
    if ok.empty or ok.system.nunique() < 1:
        return pd.DataFrame()
    summary = ok.groupby("system").agg(
        performance=("throughput_units_per_s", _geomean),
        cost=("cost_usd_per_million_units", _geomean),
        error=("accuracy_value", "median"),
        s_mfu=("s_mfu", _geomean), s_mbu=("s_mbu", _geomean))
    scores = pd.DataFrame(index=summary.index)
    scores["performance"] = summary.performance / summary.performance.max()
    scores["cost"] = summary.cost.min() / summary.cost
    scores["accuracy"] = (summary.error if higher_is_better else 1 - summary.error).clip(0, 1)
    for axis in ("s_mfu", "s_mbu"):
        top = summary[axis].max()
        scores[axis] = summary[axis] / top if top and top > 0 else 0.0
    return scores.fillna(0.0)


def cap_radar(frame: pd.DataFrame, out_dir: Path, family: str) -> list[Path]:
    from suite.registry import families
    spec = families().get(family)
    scores = radar_scores(frame, spec.accuracy_higher_is_better if spec else False)
    if scores.empty:
        return []
    angles = np.linspace(0, 2 * math.pi, len(RADAR_AXES), endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(7.5, 7), subplot_kw={"polar": True})
    for system, row in scores.iterrows():
        values = [float(row[key]) for key, _ in RADAR_AXES]
        ax.plot(angles + angles[:1], values + values[:1], linewidth=1.5, label=system)
        ax.fill(angles + angles[:1], values + values[:1], alpha=0.08)
    ax.set_xticks(angles)
    ax.set_xticklabels([label for _, label in RADAR_AXES], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0.25", "0.5", "0.75", "1"], fontsize=7)
    ax.set_title(f"{family}: CAP radar (larger is better on every axis)", pad=24)
    ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.12), fontsize=8)
    path = out_dir / f"{family}_cap_radar.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [path]


def _geomean(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").dropna()
    values = values[values > 0]
    return float(np.exp(np.log(values).mean())) if len(values) else math.nan
