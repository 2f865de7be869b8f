"""Reports of a run directory, from ``records.jsonl`` alone: CSV, markdown tables and PNGs.

Writes ``results.csv``, ``leaderboard.md`` (systems ranked per family by geometric-mean
speedup over the dense baseline of their device), ``speedup.md`` (instance x system),
``cap.md`` (cost, accuracy, performance, S-MFU, S-MBU, energy per instance and system),
each family's plot and a CAP radar per family that has the three figures.
Main entry: ``write_reports(run_dir) -> list[Path]``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from suite import registry
from suite.errors import UserError
from suite.frames import records_frame
from suite.records import read_records
from suite.runner import RECORDS_FILE


def load_run(run_dir: Path) -> pd.DataFrame:
    path = run_dir / RECORDS_FILE
    if not path.exists():
        raise UserError(f"{run_dir}: no {RECORDS_FILE} here; is it a run directory?")
    frame = records_frame(read_records(path))
    if frame.empty:
        raise UserError(f"{path}: no complete records yet")
    return frame


def write_reports(run_dir: Path) -> list[Path]:
    from suite import plots

    frame = load_run(run_dir)
    written = [run_dir / "results.csv", run_dir / "leaderboard.md", run_dir / "speedup.md",
               run_dir / "cap.md"]
    flat = frame.drop(columns=["samples_s", "checks"], errors="ignore")
    flat.to_csv(written[0], index=False)
    written[1].write_text(leaderboard_markdown(frame))
    written[2].write_text(speedup_markdown(frame))
    written[3].write_text(cap_markdown(frame))
    for family, part in frame.groupby("family"):
        spec = registry.families().get(family)
        if spec is not None and spec.plot is not None:
            written += spec.plot(part, run_dir)
        written += plots.cap_radar(part, run_dir, family)
    return written


def overhead_only(frame: pd.DataFrame) -> pd.Series:
    """Rows of systems that do no work (the null system): harness overhead, never ranked."""
    return frame.extra.apply(lambda e: bool(isinstance(e, dict) and e.get("overhead_only")))


def leaderboard(frame: pd.DataFrame) -> pd.DataFrame:
    """Per family and system: rows ok/failed/skipped, geomean and best speedup, accuracy."""
    rows = []
    for (family, system), part in frame[~overhead_only(frame)].groupby(["family", "system"]):
        ok = part[part.status == "ok"]
        speedups = ok.speedup.dropna().astype(float)
        rows.append({
            "family": family, "system": system,
            "ok": int((part.status == "ok").sum()),
            "failed": int((part.status == "failed").sum()),
            "skipped": int((part.status == "skipped").sum()),
            "geomean_speedup": _geomean(speedups),
            "best_speedup": float(speedups.max()) if len(speedups) else math.nan,
            "median_accuracy": _median(ok.accuracy_value),
            "accuracy_metric": part.accuracy_metric.iloc[0],
            "median_gflops_useful": _median(ok.gflops_useful),
        })
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    board = board.sort_values(["family", "geomean_speedup"], ascending=[True, False],
                              na_position="last")
    board.insert(1, "rank", board.groupby("family").cumcount() + 1)
    return board


def leaderboard_markdown(frame: pd.DataFrame) -> str:
    board = leaderboard(frame)
    out = ["# Leaderboard", "",
           "Systems ranked by the geometric mean of their speedup over the dense baseline "
           "of the same device, measured in the same run. Accuracy is the family's metric "
           "against the float64 reference (lower is better for errors).", ""]
    for family, part in board.groupby("family"):
        out += [f"## {family}", "", _markdown(part.drop(columns=["family"])), ""]
    overhead = frame[overhead_only(frame) & (frame.status == "ok")]
    if not overhead.empty:
        per_call_us = overhead.median_s.median() * 1e6
        out += [f"Harness overhead (null system, not ranked): {per_call_us:.3g} µs per call, "
                "median over instances.", ""]
    return "\n".join(out)


def speedup_markdown(frame: pd.DataFrame) -> str:
    out = ["# Speedup over the dense baseline (same device, same run)", "",
           "Cells: median-time speedup; `fail` / `skip` where a row did not run (see "
           "results.csv for the reason).", ""]
    for family, part in frame.groupby("family"):
        cell = part.apply(_speedup_cell, axis=1)
        table = part.assign(cell=cell).pivot_table(
            index="instance_label", columns="system", values="cell", aggfunc="first")
        out += [f"## {family}", "", table.to_markdown(), ""]
    return "\n".join(out)


def cap_table(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[frame.status == "ok"]
    columns = {"instance_label": "instance", "system": "system",
               "cost_usd_per_million_units": "cost (US$/M units)",
               "accuracy_value": "accuracy", "throughput_units_per_s": "units/s",
               "s_mfu": "S-MFU", "s_mbu": "S-MBU", "energy_j_per_unit": "energy (J/unit)",
               "unit_name": "unit"}
    return ok[list(columns)].rename(columns=columns)


def cap_markdown(frame: pd.DataFrame) -> str:
    out = ["# CAP: cost, accuracy, performance", "",
           "Cost: device price per hour (prices.yaml, overridable) x median time, per million "
           "units of work. Accuracy: the family's metric vs the float64 reference. "
           "S-MFU / S-MBU (MoE-CAP): activated FLOPs and bytes / time / measured device peaks. "
           "Energy: simulated devices only.", ""]
    for family, part in frame.groupby("family"):
        metric = part.accuracy_metric.iloc[0]
        table = cap_table(part).rename(columns={"accuracy": f"accuracy ({metric})"})
        out += [f"## {family}", "", _markdown(table), ""]
    return "\n".join(out)


def _speedup_cell(row: pd.Series) -> str:
    if row.status != "ok":
        return "fail" if row.status == "failed" else "skip"
    if row.speedup is None or pd.isna(row.speedup):
        return "n/a"
    return f"{row.speedup:.2f}x"


def _markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".3g") if not table.empty else "(no rows)"


def _geomean(values: pd.Series) -> float:
    values = values[values > 0]
    return float(np.exp(np.log(values).mean())) if len(values) else math.nan


def _median(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.median()) if len(values) else math.nan
