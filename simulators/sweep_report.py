"""Tables and plots of a finished sweep: ``sweep.csv``, ``sweep.md`` and PNGs.

Entry point: ``write_reports(rows, swept_keys, out_dir) -> list[Path]``. One PNG per swept
key: speedup over dense and energy ratio against that key's values, one line per ``nm``
value when ``nm`` is swept too (other keys averaged). matplotlib is imported here only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TABLE_COLUMNS = ("config", "total_cycles", "pe_utilization", "energy_j", "speedup_vs_dense",
                 "energy_ratio_vs_dense")


def write_reports(rows: list[dict[str, Any]], keys: list[str], out_dir: Path) -> list[Path]:
    import pandas as pd

    frame = pd.DataFrame(rows)
    written = [out_dir / "sweep.csv", out_dir / "sweep.md"]
    frame.to_csv(written[0], index=False)
    written[1].write_text(_markdown(frame))
    if not frame.empty:
        written += [_plot(frame, key, out_dir) for key in keys]
    return written


def _markdown(frame) -> str:
    lines = ["| config | cycles | utilization | energy (uJ) | speedup over dense | energy / dense |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in frame.itertuples(index=False):
        lines.append(f"| {row.config} | {row.total_cycles:,} | {row.pe_utilization:.3f} | "
                     f"{row.energy_j * 1e6:,.2f} | {_num(row.speedup_vs_dense)} | "
                     f"{_num(row.energy_ratio_vs_dense)} |")
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def _order(values) -> list[int]:
    """Numeric order when every value is a number (sweep values arrive as text), else as is."""
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        return list(range(len(values)))
    return sorted(range(len(values)), key=numbers.__getitem__)


def _plot(frame, key: str, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    groups = frame.groupby("nm") if "nm" in frame and key != "nm" else [("all", frame)]
    for label, part in groups:
        means = part.groupby(key, sort=False)[["speedup_vs_dense", "energy_ratio_vs_dense"]].mean()
        means = means.iloc[_order(means.index)]
        for axis, column in zip(axes, means.columns, strict=True):
            axis.plot(means.index.astype(str), means[column], marker="o", label=f"nm={label}")
    for axis, title in zip(axes, ("speedup over dense", "energy / dense"), strict=True):
        axis.set_xlabel(key)
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"sweep_{key}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
