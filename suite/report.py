"""Reports of a run directory, from ``records.jsonl`` alone: CSV, markdown tables and PNGs.

Writes ``results.csv``, ``leaderboard.md`` (systems ranked per family by geometric-mean
speedup: over the family's rank baseline where its records carry one, else over the dense
baseline of the device), ``speedup.md`` (instance x system), ``cap.md`` (cost, accuracy,
performance, S-MFU, S-MBU, energy, build cost per instance and system, with what a timed
call covers), each family's plot and a CAP radar per family that has the three figures.
Accuracy headers state each metric's direction as recorded; rows with ``flags`` are marked
``!`` and their flags listed under the table. Old (v1) run directories read the same way.
Main entry: ``write_reports(run_dir) -> list[Path]``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from suite import registry
from suite.errors import UserError
from suite.frames import (
    accuracy_columns,
    accuracy_values,
    csv_frame,
    metric_info,
    names,
    records_frame,
)
from suite.records import RECORDS_FILE, read_records

RANK = "speedup_vs_rank_baseline"
FLAG_MARK = " !"


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
    csv_frame(frame).to_csv(written[0], index=False)
    written[1].write_text(leaderboard_markdown(frame))
    written[2].write_text(speedup_markdown(frame))
    written[3].write_text(cap_markdown(frame))
    for family, part in frame.groupby("family"):
        spec = registry.families().get(family)
        if spec is not None and spec.plot is not None:
            written += _drawn(lambda: spec.plot(part, run_dir), f"{family} plot")
        written += _drawn(lambda: plots.cap_radar(part, run_dir, family), f"{family} radar")
    return written


def _drawn(draw, what: str) -> list[Path]:
    """A plot that cannot be drawn (no data of its kind) costs itself, never the tables."""
    import sys
    try:
        return list(draw())
    except Exception as exc:
        print(f"run-suite: warning: {what} not drawn: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return []


def overhead_only(frame: pd.DataFrame) -> pd.Series:
    """Rows of systems that do no work (the null system): harness overhead, never ranked."""
    return frame.extra.apply(lambda e: bool(isinstance(e, dict) and e.get("overhead_only")))


def rank_basis(part: pd.DataFrame) -> str:
    """The column a family is ranked by: its rank-baseline ratio where any ok row has one."""
    ok = part[part.status == "ok"]
    if RANK in ok and pd.to_numeric(ok[RANK], errors="coerce").notna().any():
        return RANK
    return "speedup"


def baseline_names(part: pd.DataFrame, basis: str) -> str:
    """The systems a ratio column is measured against, e.g. ``cpu/loop, cuda/loop``."""
    column = "rank_baseline_system" if basis == RANK else "baseline_system"
    return ", ".join(names(part[part.status == "ok"], column)) or "-"


def leaderboard(frame: pd.DataFrame) -> pd.DataFrame:
    """Per family and system: row counts, geomean and best speedup, baseline, accuracy."""
    ranked = frame[~overhead_only(frame)]
    boards = [_family_board(family, part) for family, part in ranked.groupby("family")]
    return pd.concat(boards, ignore_index=True) if boards else pd.DataFrame()


def _family_board(family: str, part: pd.DataFrame) -> pd.DataFrame:
    basis = rank_basis(part)
    rows = [_board_row(family, system, rows, basis) for system, rows in part.groupby("system")]
    board = pd.DataFrame(rows).sort_values("geomean_speedup", ascending=False,
                                           na_position="last", kind="stable")
    board.insert(1, "rank", range(1, len(board) + 1))
    return board


def _board_row(family: str, system: str, part: pd.DataFrame, basis: str) -> dict:
    ok = part[part.status == "ok"]
    ratios = pd.to_numeric(ok[basis], errors="coerce").dropna()
    return {
        "family": family, "system": system,
        "ok": int(len(ok)), "failed": int((part.status == "failed").sum()),
        "skipped": int((part.status == "skipped").sum()),
        "flagged": int(ok.flagged.sum()) if "flagged" in ok else 0,
        "geomean_speedup": _geomean(ratios),
        "best_speedup": float(ratios.max()) if len(ratios) else math.nan,
        "baseline": baseline_names(part, basis),
        "geomean_vs_dense": _geomean(pd.to_numeric(ok.speedup, errors="coerce").dropna()),
        "median_accuracy": _median(ok.accuracy_value),
        "accuracy_metric": part.accuracy_metric.iloc[0],
        "median_gflop_per_s_useful": _median(ok.gflop_per_s_useful),
    }


def leaderboard_markdown(frame: pd.DataFrame) -> str:
    board = leaderboard(frame)
    out = ["# Leaderboard", "",
           "Systems ranked per family by the geometric mean of their speedup over a baseline "
           "measured in the same run: the family's rank baseline where its records name one, "
           "else the dense baseline of the same device. Accuracy is the family's metric "
           "against its reference; each header says which way is better.", ""]
    for family, part in frame.groupby("family"):
        table = board[board.family == family] if not board.empty else board
        out += [_board_heading(family, part), "", _markdown(_board_table(table, part)), ""]
        out += _flag_lines(part)
    overhead = frame[overhead_only(frame) & (frame.status == "ok")]
    if not overhead.empty:
        per_call_us = overhead.median_s.median() * 1e6
        out += [f"Harness overhead (null system, not ranked): {per_call_us:.3g} µs per call, "
                "median over instances.", ""]
    return "\n".join(out)


def _board_heading(family: str, part: pd.DataFrame) -> str:
    if rank_basis(part) == RANK:
        return (f"## {family}: ranked by speedup over the rank baseline "
                f"({baseline_names(part, RANK)}), not over dense")
    return f"## {family}: ranked by speedup over dense (same device)"


def _board_table(board: pd.DataFrame, part: pd.DataFrame) -> pd.DataFrame:
    table = board.drop(columns=["family", "accuracy_metric"], errors="ignore")
    if rank_basis(part) != RANK:
        table = table.drop(columns=["geomean_vs_dense"], errors="ignore")
    if "flagged" in table and not table.flagged.any():
        table = table.drop(columns=["flagged"])
    return table.rename(columns={"median_accuracy": f"median {metric_info(part).label}"})


def speedup_markdown(frame: pd.DataFrame) -> str:
    out = ["# Speedup over the dense baseline (same device, same run)", "",
           "Cells: median-time speedup; `fail` / `skip` where a row did not run (see "
           f"results.csv for the reason); `{FLAG_MARK.strip()}` marks an ok row with flags "
           "(listed under the table).", ""]
    for family, part in frame.groupby("family"):
        out += [f"## {family}", "", _speedup_table(part, "speedup"), ""]
        if rank_basis(part) == RANK:
            out += [f"### {family}: over the rank baseline ({baseline_names(part, RANK)})", "",
                    _speedup_table(part, RANK), ""]
        out += _flag_lines(part)
    return "\n".join(out)


def _speedup_table(part: pd.DataFrame, column: str) -> str:
    cell = part.apply(lambda row: _speedup_cell(row, column), axis=1)
    table = part.assign(cell=cell).pivot_table(
        index="instance_label", columns="system", values="cell", aggfunc="first")
    return table.to_markdown()


def cap_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The ok rows of one family as ``cap.md`` shows them (headers with units and directions)."""
    ok = frame[frame.status == "ok"]
    if ok.empty:
        return pd.DataFrame()
    table = pd.DataFrame({"instance": ok.instance_label, "system": ok.apply(_system_cell, axis=1),
                          "cost (US$/M units)": ok.cost_usd_per_million_units})
    for metric in accuracy_columns(frame):
        table[f"accuracy: {metric.label}"] = accuracy_values(ok, metric.name)
    table["units/s"] = ok.throughput_units_per_s
    if rank_basis(frame) == RANK:
        table["speedup vs dense"] = ok.speedup
        table[f"speedup vs {baseline_names(frame, RANK)}"] = ok[RANK]
    for column, label in (("s_mfu", "S-MFU"), ("s_mbu", "S-MBU"),
                          ("energy_j_per_unit", "energy (J/unit)")):
        table[label] = ok[column]
    table = _build_columns(table, ok)
    table["unit"] = ok.unit_name
    return table


def _build_columns(table: pd.DataFrame, ok: pd.DataFrame) -> pd.DataFrame:
    """``build s`` and ``artifact bytes`` where any row has them (``shared``: one build)."""
    if "build_s" in ok and ok.build_s.notna().any():
        table["build s"] = ok.build_s
    if "artifact_bytes" in ok and ok.artifact_bytes.notna().any():
        table["artifact bytes"] = ok.apply(_artifact_cell, axis=1)
    return table


def cap_markdown(frame: pd.DataFrame) -> str:
    out = ["# CAP: cost, accuracy, performance", "",
           "Cost: device price per hour (prices.yaml, overridable) x median time, per million "
           "units of work. Accuracy: the family's metrics vs their reference; each header "
           "says which way is better. S-MFU / S-MBU (MoE-CAP): activated FLOPs and bytes / "
           "time / measured device peaks. Energy: simulated devices only. Build s: the "
           "untimed build the row used (possibly made for an earlier row). "
           f"`{FLAG_MARK.strip()}` after a system: an ok row with flags (listed under the "
           "table).", ""]
    for family, part in frame.groupby("family"):
        out += [f"## {family}", "", _scope_line(part), ""]
        out += [_markdown(cap_table(part)), ""] + _flag_lines(part)
    return "\n".join(out)


def _scope_line(part: pd.DataFrame) -> str:
    scopes = names(part, "timed_scope")
    return f"Timed call: {'; '.join(scopes)}." if scopes else "Timed call: not recorded."


def _flag_lines(part: pd.DataFrame) -> list[str]:
    """One line per (system, flag) of the ok rows with flags, as the console lists reasons."""
    if "flags" not in part:
        return []
    counts: dict[tuple[str, str], int] = {}
    for _, row in part[part.status == "ok"].iterrows():
        for flag in row["flags"] if isinstance(row["flags"], list) else ():
            counts[(row.system, str(flag))] = counts.get((row.system, str(flag)), 0) + 1
    lines = [f"- `{system}{FLAG_MARK}` on {n} instance(s): {flag}"
             for (system, flag), n in counts.items()]
    return ["Flagged rows (still ok; read them twice):", ""] + lines + [""] if lines else []


def _system_cell(row: pd.Series) -> str:
    return row.system + (FLAG_MARK if _flagged(row) else "")


def _flagged(row: pd.Series) -> bool:
    return bool(isinstance(row.get("flags"), list) and row.get("flags"))


def _artifact_cell(row: pd.Series) -> str:
    if row.artifact_bytes is None or pd.isna(row.artifact_bytes):
        return ""
    return f"{row.artifact_bytes:.3g}" + (" (shared)" if row.get("artifact_shared") else "")


def _speedup_cell(row: pd.Series, column: str = "speedup") -> str:
    if row.status != "ok":
        return "fail" if row.status == "failed" else "skip"
    value = row.get(column)
    if value is None or pd.isna(value):
        return "n/a"
    return f"{value:.2f}x" + (FLAG_MARK.strip() if _flagged(row) else "")


def _markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".3g") if not table.empty else "(no rows)"


def _geomean(values: pd.Series) -> float:
    values = values[values > 0]
    return float(np.exp(np.log(values).mean())) if len(values) else math.nan


def _median(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.median()) if len(values) else math.nan
