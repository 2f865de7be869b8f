"""``run-suite history DIR...``: speedups over many runs, and where they stepped.

Runs are ordered by when they started (``env.json``). Each (instance, system) row's
same-run speedup becomes a series; a step is the split of that series into before and
after whose medians differ by more than the threshold, with the per-round speedups of
the runs before and after told apart by Mann-Whitney (``p < 0.01``); the largest such
step is reported with the run it starts at. Writes ``history.md`` (the trend table, steps
first) and ``history.png`` (each system's geometric-mean speedup per run, per family and
device kind, steps marked). Main entry: ``write_history(run_dirs, out_dir, threshold)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from suite import uncertainty
from suite.compare_report import cell
from suite.errors import UserError
from suite.ranking import geomean

ALPHA = 0.01


@dataclass(frozen=True)
class Step:
    family: str
    instance: str
    system: str
    at_run: str
    before: float
    after: float
    p_value: float

    @property
    def change(self) -> float:
        return self.after / self.before - 1


def load_runs(run_dirs: list[Path]) -> list[tuple[str, pd.DataFrame]]:
    """(label, frame) per run, oldest first; the label is the directory name and commit."""
    from suite.report import load_run, run_env

    if len(run_dirs) < 2:
        raise UserError("history: give at least two run directories")
    runs = []
    for path in run_dirs:
        env = run_env(path)
        commit = str(env.get("git_commit") or "")[:7]
        runs.append((str(env.get("started") or ""), f"{path.name}" + (f"@{commit}" if commit
                                                                      else ""), load_run(path)))
    runs.sort(key=lambda item: item[0])
    labels = [label for _, label, _ in runs]
    if len(set(labels)) < len(labels):
        labels = [f"{i + 1}:{label}" for i, label in enumerate(labels)]
    return [(label, frame) for label, (_, _, frame) in zip(labels, runs, strict=True)]


def series(runs: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """One row per (family, device kind, instance, system, run): speedup and round ratios."""
    rows = []
    for label, frame in runs:
        ok = frame[(frame.status == "ok") & frame.speedup.notna()
                   & ~frame.is_baseline.astype(bool)]
        for _, r in ok.iterrows():
            rows.append({"family": r.family, "device_kind": r.device_kind,
                         "instance": r.instance_label, "system": r.system, "run": label,
                         "speedup": float(r.speedup),
                         "rounds": uncertainty.round_ratios(r.baseline_samples_s, r.samples_s)})
    return pd.DataFrame(rows)


def find_step(part: pd.DataFrame, order: list[str], threshold: float) -> Step | None:
    """The largest significant step of one row's series (``part``: its runs)."""
    part = part.set_index("run").reindex([r for r in order if r in set(part.run)])
    best = None
    for k in range(1, len(part)):
        before, after = part.iloc[:k], part.iloc[k:]
        b, a = float(np.median(before.speedup)), float(np.median(after.speedup))
        if abs(a / b - 1) <= threshold:
            continue
        p = uncertainty.mann_whitney_p([x for r in before.rounds for x in r],
                                       [x for r in after.rounds for x in r])
        if p < ALPHA and (best is None or abs(math.log(a / b)) > abs(math.log(best.after
                                                                             / best.before))):
            first = part.iloc[0]
            best = Step(first.family, first.instance, first.system, part.index[k], b, a, p)
    return best


def history_markdown(table: pd.DataFrame, order: list[str], steps: list[Step],
                     threshold: float) -> str:
    out = ["# History: same-run speedup over dense, run by run", "",
           f"Runs, oldest first: {', '.join(f'`{cell(r)}`' for r in order)}.", "",
           f"## Step changes (> {threshold:.0%}, Mann-Whitney p < {ALPHA:g} on the "
           "per-round speedups before vs after)", ""]
    if steps:
        out += ["| family | instance | system | from run | before | after | change | p |",
                "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"]
        out += [f"| {cell(s.family)} | {cell(s.instance)} | `{cell(s.system)}` | "
                f"`{cell(s.at_run)}` | {s.before:.3g}x | {s.after:.3g}x | {s.change:+.1%} | "
                f"{s.p_value:.2g} |" for s in steps]
    else:
        out += ["None."]
    wide = table.pivot_table(index=["family", "instance", "system"], columns="run",
                             values="speedup", aggfunc="first").reindex(columns=order)
    out += ["", "## Trend", "", wide.map(lambda v: "-" if pd.isna(v) else f"{v:.3g}x")
            .reset_index().to_markdown(index=False), ""]
    return "\n".join(out)


def history_plot(table: pd.DataFrame, order: list[str], steps: list[Step], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(table.groupby(["family", "device_kind"]))
    fig, axes = plt.subplots(len(groups), 1, squeeze=False, figsize=(
        max(7.0, 1.1 * len(order) + 4), 3.4 * len(groups)))
    stepped = {s.system for s in steps}
    for ax, ((family, kind), part) in zip(axes[:, 0], groups, strict=True):
        for system, mine in part.groupby("system"):
            means = [geomean(mine[mine.run == run].speedup) for run in order]
            ax.plot(range(len(order)), means, marker="o",
                    linewidth=2.2 if system in stepped else 1.2,
                    label=system + (" (step)" if system in stepped else ""))
        ax.set_yscale("log")
        ax.set_title(f"{family} on {kind}: geometric-mean speedup over dense per run",
                     fontsize=10)
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right", fontsize=7)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_history(run_dirs: list[Path], out_dir: Path, threshold: float = 0.10) -> list[Path]:
    runs = load_runs(run_dirs)
    order = [label for label, _ in runs]
    table = series(runs)
    if table.empty:
        raise UserError("history: no ok, non-baseline rows with a speedup in these runs")
    steps = [s for _, part in table.groupby(["family", "instance", "system"])
             if (s := find_step(part, order, threshold)) is not None]
    steps.sort(key=lambda s: abs(s.change), reverse=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, png = out_dir / "history.md", out_dir / "history.png"
    md.write_text(history_markdown(table, order, steps, threshold))
    history_plot(table, order, steps, png)
    return [md, png]
