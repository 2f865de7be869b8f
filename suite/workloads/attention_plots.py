"""The attention family's plots: recall vs speedup and recall vs density, one curve per
method over its budget, prefill and decode side by side.

Main entry: ``plot_attention(frame, out_dir) -> [paths]`` (the family's ``plot``), drawn
from ``records.jsonl`` alone: each ok row's ``params`` (phase, length, source, budget),
``accuracy`` (recall, density) and ``speedup`` (over the device's dense baseline, which is
the faster of ours and torch SDPA on the CPU). Curves with fewer than two budgets are
drawn as points.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from suite.workloads.attention import PHASES  # noqa: E402

STYLES = ("-", "--", ":", "-.")


def points(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ok, non-baseline record: phase, length, source, system, recall,
    density, speedup."""
    ok = frame[(frame.family == "attention") & (frame.status == "ok")]
    ok = ok[~ok.is_baseline.astype(bool)]
    rows = []
    for _, r in ok.iterrows():
        params, acc = r["params"] or {}, r["accuracy"] or {}
        if "recall" not in acc:
            continue
        rows.append({"phase": params.get("phase"), "length": params.get("length"),
                     "source": params.get("source"), "system": r["system"],
                     "recall": acc["recall"], "density": acc.get("density"),
                     "speedup": r.get("speedup")})
    return pd.DataFrame(rows)


def _panel(ax, part: pd.DataFrame, x: str, lengths: list) -> None:
    colors = {s: f"C{i % 10}" for i, s in enumerate(sorted(part.system.unique()))}
    for (system, length, source), curve in part.groupby(["system", "length", "source"]):
        curve = curve.dropna(subset=[x]).sort_values(x)
        if curve.empty:
            continue
        style = STYLES[lengths.index(length) % len(STYLES)]
        ax.plot(curve[x], curve.recall, marker="o", linestyle=style, color=colors[system],
                label=f"{system} L={length} {source}")
    ax.set_xscale("log")
    ax.set_ylabel("attention-mass recall")
    ax.grid(True, which="both", alpha=0.3)


def _figure(data: pd.DataFrame, x: str, xlabel: str, path: Path) -> Path | None:
    phases = [p for p in PHASES if p in set(data.phase)]
    if not phases:
        return None
    fig, axes = plt.subplots(1, len(phases), figsize=(7.5 * len(phases), 5.5), squeeze=False)
    for ax, phase in zip(axes[0], phases, strict=True):
        part = data[data.phase == phase]
        _panel(ax, part, x, sorted(part.length.unique().tolist()))
        if x == "speedup":
            ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel(xlabel)
        ax.set_title(f"attention {phase}")
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_attention(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    data = points(frame)
    if data.empty:
        return []
    out_dir = Path(out_dir)
    made = [_figure(data.dropna(subset=["speedup"]), "speedup",
                    "speedup over the best dense attention on the device (x)",
                    out_dir / "attention_recall_vs_speedup.png"),
            _figure(data, "density", "achieved density (kept / causal entries)",
                    out_dir / "attention_recall_vs_density.png")]
    return [p for p in made if p is not None]
