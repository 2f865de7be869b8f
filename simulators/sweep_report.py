"""Tables and plots of a finished sweep: ``sweep.csv``, ``sweep.md``, PNGs and the Pareto front.

Entry point: ``write_reports(rows, swept_keys, out_dir, title="", base_label="the base")
-> list[Path]``. Writes ``sweep.csv`` (every field of every row), ``sweep.md`` (config,
weights' pattern, hardware's patterns, cycles, utilization, energy, area, speedups),
``sweep_<key>.png`` per swept key and a heatmap of a two-axis grid (``simulators.
sweep_plots``), and ``pareto.md`` / ``pareto.png`` (``simulators.pareto``).
pandas and matplotlib are imported here only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulators.sweep_plots import plot_heatmap, plot_key

TABLE_COLUMNS = ("config", "weights_nm", "hw_sparsity", "total_cycles", "pe_utilization",
                 "energy_j", "area_total_mm2", "speedup_vs_dense", "energy_ratio_vs_dense",
                 "speedup_vs_base")


def write_reports(rows: list[dict[str, Any]], keys: list[str], out_dir: Path, title: str = "",
                  base_label: str = "the base config") -> list[Path]:
    import pandas as pd

    from simulators.pareto import write_pareto

    frame = pd.DataFrame(rows)
    written = [out_dir / "sweep.csv", out_dir / "sweep.md"]
    frame.to_csv(written[0], index=False)
    written[1].write_text(_markdown(frame))
    if frame.empty:
        return written
    title = title or "sweep"
    written += [plot_key(frame, key, keys, out_dir, title) for key in keys]
    pair = heatmap_pair(keys)
    if pair:
        written.append(plot_heatmap(frame, pair, keys, out_dir, title))
    if "speedup_vs_base" in frame:
        written += write_pareto(frame, out_dir, title, base_label)
    return written


def heatmap_pair(keys: list[str]) -> tuple[str, str] | None:
    """The weights x hardware grid when both are swept, else the first two swept keys."""
    if {"nm", "hw_sparsity"} <= set(keys):
        return "nm", "hw_sparsity"
    return (keys[0], keys[1]) if len(keys) >= 2 else None


def _markdown(frame) -> str:
    lines = ["| config | weights | hw sparsity | cycles | utilization | energy (uJ) | "
             "area (mm2) | speedup over dense | energy / dense | speedup vs base |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in frame.to_dict("records"):
        lines.append(f"| {row['config']} | {row.get('weights_nm', '-')} | "
                     f"{row.get('hw_sparsity', '-')} | {row['total_cycles']:,} | "
                     f"{row['pe_utilization']:.3f} | {row['energy_j'] * 1e6:,.2f} | "
                     f"{_num(row.get('area_total_mm2'))} | {_num(row['speedup_vs_dense'])} | "
                     f"{_num(row['energy_ratio_vs_dense'])} | "
                     f"{_num(row.get('speedup_vs_base'))} |")
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"
