"""The architect's trade-off: configs no other config beats on speed, energy and area at once.

Entry points: ``pareto_front(frame) -> DataFrame`` (the non-dominated rows: highest
``speedup_vs_base``, lowest ``energy_j``, lowest ``area_total_mm2``; rows with the same
three numbers kept once) and ``write_pareto(frame, out_dir, title)`` -> ``pareto.md`` and
``pareto.png``. Cost: one sort and, per row, a comparison with the front so far
(10,000 rows in well under a second).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OBJECTIVES = ("speedup_vs_base", "energy_j", "area_total_mm2")


def pareto_front(frame):
    """Rows not dominated: none other is as fast, as frugal and as small, and better in one.

    ``configs_alike``: how many configs share the row's three numbers (one is shown).
    """
    shared = frame.groupby(list(OBJECTIVES))["config"].transform("size")
    data = frame.assign(configs_alike=shared).drop_duplicates(list(OBJECTIVES))
    data = data.sort_values(list(OBJECTIVES), ascending=[False, True, True])
    values = data[list(OBJECTIVES)].to_numpy(dtype=float)
    keep: list[int] = []
    for i, (speed, energy, area) in enumerate(values):
        front = values[keep]
        dominated = ((front[:, 0] >= speed) & (front[:, 1] <= energy) & (front[:, 2] <= area))
        if not dominated.any():
            keep.append(i)
    return data.iloc[keep].sort_values("area_total_mm2")


def pareto_markdown(front, base_label: str) -> str:
    lines = [f"Pareto front ({len(front)} configs): speedup over {base_label}, "
             "energy per run of the workload, area of PEs + SRAM.", "",
             "| config | weights | hw sparsity | speedup vs base | energy (uJ) | area (mm2) "
             "| configs alike |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for row in front.itertuples(index=False):
        lines.append(f"| {row.config} | {row.weights_nm} | {row.hw_sparsity} | "
                     f"{row.speedup_vs_base:.3f} | {row.energy_j * 1e6:,.2f} | "
                     f"{row.area_total_mm2:.3f} | {row.configs_alike} |")
    return "\n".join(lines) + "\n"


def plot_pareto(frame, front, out_dir: Path, title: str, base_label: str) -> Path:
    from simulators.sweep_plots import _pyplot, _save

    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(8, 5.5))
    points = axis.scatter(frame["area_total_mm2"], frame["speedup_vs_base"], s=6,
                          c=np.log10(frame["energy_j"] * 1e6), cmap="viridis", alpha=0.5)
    fig.colorbar(points, ax=axis, label="log10 energy (uJ)")
    axis.plot(front["area_total_mm2"], front["speedup_vs_base"], "o", mfc="none",
              mec="crimson", ms=7, label=f"Pareto front ({len(front)} configs)")
    if frame["area_total_mm2"].max() >= 10 * frame["area_total_mm2"].min():
        from matplotlib.ticker import LogLocator, ScalarFormatter

        axis.set_xscale("log")
        axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(ScalarFormatter())
        axis.xaxis.set_minor_formatter(ScalarFormatter(useOffset=False))
        axis.tick_params(axis="x", which="minor", labelbottom=False)
    axis.set_xlabel("area, PEs + SRAM (mm$^2$)")
    axis.set_ylabel(f"speedup over {base_label}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(f"{title}\n{len(frame)} configs; front = not beaten on speed, energy and "
                   "area at once", fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, out_dir / "pareto.png")


def write_pareto(frame, out_dir: Path, title: str, base_label: str) -> list[Path]:
    front = pareto_front(frame)
    table = out_dir / "pareto.md"
    table.write_text(f"# {title}\n\n" + pareto_markdown(front, base_label))
    return [table, plot_pareto(frame, front, out_dir, title, base_label)]
