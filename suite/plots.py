"""PNG plots of a run: speedup vs density per kernel, and the CAP radar (MoE-CAP style).

Main entries: ``speedup_vs_density(frame, out_dir, family)`` (panels per pattern kind,
binned densities, a marker per shape, interval error bars, break-even bands from
``suite.breakeven``), ``throughput_bars(frame,
out_dir, family)`` (units/s per system, a panel per instance) and ``cap_radar(frame,
out_dir, family)``; each returns the paths it wrote (none when the records lack the
figures the plot needs). The radar scores accuracy by the direction and
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

from suite import breakeven  # noqa: E402
from suite.frames import MetricInfo, metric_info  # noqa: E402


def speedup_vs_density(frame: pd.DataFrame, out_dir: Path, family: str) -> list[Path]:
    """Speedup over dense against weight density: a row of panels per device kind (CPU
    kernels never beside simulated arrays), a panel per pattern kind (N:M, unstructured,
    block, ...), densities binned, a colour per system, a marker per shape (the instance's
    other parameters), 95 % intervals as error bars, INVALID rows hollow. Log-log axes."""
    ok = frame[(frame.status == "ok") & frame.speedup.notna() & frame.density.notna()]
    ok = ok[~ok.is_baseline.astype(bool)].copy()
    if ok.empty:
        return []
    ok["bin"] = density_bins(ok.density)
    ok["shape_key"] = shape_keys(ok)
    devices, kinds = sorted(ok.device_kind.unique()), _kinds(ok)
    fig, axes = plt.subplots(len(devices), len(kinds), squeeze=False, sharey="row",
                             figsize=(3.4 * len(kinds) + 3.2, 3.3 * len(devices) + 0.8))
    colors = {s: f"C{i % 10}" for i, s in enumerate(sorted(ok.system.unique()))}
    markers = {k: MARKERS[i % len(MARKERS)] for i, k in enumerate(sorted(ok.shape_key.unique()))}
    found = breakeven.breakevens(frame, family)
    for row, device in enumerate(devices):
        for col, kind in enumerate(kinds):
            rows = ok[(ok.device_kind == device) & (ok.pattern_kind.fillna("") == kind)]
            _density_panel(axes[row][col], rows, f"{device}: {kind or 'no pattern'}",
                           colors, markers)
            breakeven.draw_bands(axes[row][col], [b for b in found if b.device_kind == device
                                                  and b.pattern_kind == kind], colors)
        axes[row][0].set_ylabel("speedup over dense (x, log)")
    _density_legends(fig, colors, markers)
    fig.suptitle(f"{family}: speedup vs weight density per device and pattern kind "
                 "(bars: 95 % interval; hollow: INVALID)\nbands: break-even density "
                 "(95 % interval, dotted estimate; hatched: INVALID)", fontsize=10, y=0.995)
    path = out_dir / f"{family}_speedup_vs_density.png"
    fig.tight_layout(rect=(0, 0, 1 - 2.9 / fig.get_figwidth(), 0.95))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
KIND_ORDER = ("N:M", "unstructured", "block", "dense")


def density_bins(densities: pd.Series, ratio: float = 1.15) -> pd.Series:
    """Densities within ``ratio`` of each other share one bin, named by their median to
    three significant digits (0.04997 and 0.05003 -> 0.05)."""
    values = sorted(float(v) for v in densities.dropna().unique() if v > 0)
    label: dict[float, float] = {}
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] > values[start] * ratio:
            group = values[start:i]
            name = float(f"{float(np.median(group)):.3g}")
            label.update({v: name for v in group})
            start = i
    return densities.map(lambda v: label.get(float(v), v) if pd.notna(v) else v)


def shape_keys(rows: pd.DataFrame, width: int = 30) -> pd.Series:
    """Each row's parameters other than the pattern, those that vary and are set only:
    ``n=128 shape=bert-base.ffn-up`` (cut to ``width`` characters for the legend)."""
    params = rows.params.apply(lambda p: {k: v for k, v in (p or {}).items()
                                          if k != "pattern" and v is not None})
    keys = sorted({k for p in params for k in p})
    varying = [k for k in keys if len({json_key(p.get(k)) for p in params}) > 1]

    def key(p: dict) -> str:
        text = " ".join(f"{k}={json_key(p[k])}" for k in varying if k in p) or "all shapes"
        return text if len(text) <= width else text[:width - 1] + "…"
    return params.apply(key)


def json_key(value) -> str:
    if isinstance(value, list):
        return "x".join(str(v) for v in value)
    return str(value)


def _kinds(ok: pd.DataFrame) -> list[str]:
    present = [k for k in dict.fromkeys(ok.pattern_kind.fillna(""))]
    return sorted(present, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER
                                          else len(KIND_ORDER), k))


def _density_panel(ax, rows: pd.DataFrame, title: str, colors: dict, markers: dict) -> None:
    for (system, shape), part in rows.groupby(["system", "shape_key"]):
        part = part.sort_values("bin")
        low = (part.speedup - part.speedup_low.astype(float)).clip(lower=0).fillna(0)
        high = (part.speedup_high.astype(float) - part.speedup).clip(lower=0).fillna(0)
        ax.errorbar(part.bin, part.speedup, yerr=[low, high], color=colors[system],
                    marker="none", linewidth=1, capsize=3, alpha=0.8)
        invalid = part.get("verdict", pd.Series("", index=part.index)) == "INVALID"
        for hollow, points in ((False, part[~invalid]), (True, part[invalid])):
            ax.scatter(points.bin, points.speedup, marker=markers[shape], s=36, zorder=3,
                       facecolors="none" if hollow else colors[system],
                       edgecolors=colors[system])
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    bins = sorted(rows.bin.dropna().unique())
    if bins:
        ax.set_xlim(min(bins) / 1.6, max(bins) * 1.6)
        ax.set_xticks(bins, [f"{b:g}" for b in bins], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("weight density (binned)", fontsize=9)
    ax.set_title(title if not rows.empty else f"{title} (no rows)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)


def _density_legends(fig, colors: dict, markers: dict) -> None:
    from matplotlib.lines import Line2D

    systems = [Line2D([], [], color=c, marker="o", label=s) for s, c in colors.items()]
    shapes = [Line2D([], [], color="black", marker=m, linestyle="none", label=k)
              for k, m in markers.items()]
    left = 1 - 2.8 / fig.get_figwidth()
    first = fig.legend(handles=systems, title="system", fontsize=8, loc="upper left",
                       bbox_to_anchor=(left, 0.92))
    fig.add_artist(first)
    fig.legend(handles=shapes, title="shape", fontsize=8, loc="lower left",
               bbox_to_anchor=(left, 0.04))


def throughput_bars(frame: pd.DataFrame, out_dir: Path, family: str) -> list[Path]:
    """Units/s of each system, one horizontal panel per instance (log axis, value on each
    bar, lossy systems hatched): legible at any number of systems and instances."""
    from suite.ranking import LOSSY_SEMANTICS, overhead_only

    ok = frame[(frame.status == "ok") & frame.throughput_units_per_s.notna()
               & ~overhead_only(frame)]
    if ok.empty:
        return []
    instances = list(dict.fromkeys(ok.instance_label))
    systems = sorted(ok.system.unique())
    fig, axes = plt.subplots(len(instances), 1, squeeze=False, sharex=True,
                             figsize=(9, 0.9 + (0.32 * len(systems) + 0.6) * len(instances)))
    unit = str(ok.unit_name.iloc[0] or "unit")
    for ax, label in zip(axes[:, 0], instances, strict=True):
        rows = ok[ok.instance_label == label].set_index("system").reindex(systems).dropna(
            subset=["throughput_units_per_s"])
        lossy = rows.semantics.apply(lambda sem: isinstance(sem, dict) and any(
            sem.get(k) for k in LOSSY_SEMANTICS))
        bars = ax.barh(rows.index, rows.throughput_units_per_s,
                       color=[f"C{systems.index(s) % 10}" for s in rows.index],
                       hatch=["//" if x else "" for x in lossy])
        ax.bar_label(bars, labels=[f"{v:.3g}" for v in rows.throughput_units_per_s],
                     fontsize=8, padding=2)
        ax.set_xscale("log")
        ax.set_title(label, fontsize=9, loc="left")
        ax.tick_params(axis="y", labelsize=8)
        ax.invert_yaxis()
    axes[-1, 0].set_xlabel(f"throughput ({unit}s/s, log; higher is better; hatched: lossy)")
    fig.tight_layout()
    path = out_dir / f"{family}_throughput.png"
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
