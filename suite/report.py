"""Reports of a run directory, from ``records.jsonl`` (and ``env.json``): CSV, markdown, PNGs.

Writes ``results.csv`` (lists and dicts as JSON), ``leaderboard.md`` (``suite.leaderboard``:
fair rankings per family and device kind), ``speedup.md`` (instance x system, each speedup
with its 95 % interval, INVALID cells marked with their reasons listed), ``cap.md`` (cost,
accuracy, performance, S-MFU, S-MBU, energy, build cost per instance and system, with what
a timed call covers), ``breakeven.md`` where an SpMM density sweep exists
(``suite.breakeven``), each family's plot and a CAP radar per family that has the three
figures. Roofline figures are re-taken against the run's best peaks (``suite.reassess``).
Accuracy headers state each metric's direction as recorded; rows with ``flags`` are marked
``!`` and their flags listed under the table. Old (v1) run directories read the same way.
Main entries: ``write_reports(run_dir) -> list[Path]``, ``load_run``, ``run_env``.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from suite import registry
from suite.errors import UserError
from suite.frames import accuracy_columns, accuracy_values, csv_frame, names, records_frame
from suite.leaderboard import FLAG_MARK, flag_lines, interval_text, leaderboard_markdown
from suite.ranking import RANK, baseline_names, overhead_only, rank_basis, rankings
from suite.reassess import ENV_FILE, best_peaks
from suite.records import RECORDS_FILE, read_records

__all__ = ["RANK", "baseline_names", "leaderboard", "load_run", "overhead_only",
           "rank_basis", "run_env", "write_reports"]


def load_run(run_dir: Path) -> pd.DataFrame:
    path = run_dir / RECORDS_FILE
    if not path.exists():
        raise UserError(f"{run_dir}: no {RECORDS_FILE} here; is it a run directory?")
    frame = records_frame(read_records(path), best_peaks(run_dir))
    if frame.empty:
        raise UserError(f"{path}: no complete records yet")
    return frame


def run_env(run_dir: Path) -> dict[str, Any]:
    """The run's ``env.json`` ({} where it is missing or unreadable)."""
    try:
        data = json.loads((run_dir / ENV_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_reports(run_dir: Path) -> list[Path]:
    from suite import plots

    frame = load_run(run_dir)
    written = [run_dir / "results.csv", run_dir / "leaderboard.md", run_dir / "speedup.md",
               run_dir / "cap.md"]
    csv_frame(frame).to_csv(written[0], index=False)
    written[1].write_text(leaderboard_markdown(frame, run_env(run_dir)))
    written[2].write_text(speedup_markdown(frame))
    written[3].write_text(cap_markdown(frame))
    from suite.predicted import predicted_markdown
    if frame.device.astype(str).str.startswith("sim:").any():
        written.append(run_dir / "predicted_vs_achieved.md")
        written[-1].write_text(predicted_markdown(frame))
    from suite.breakeven import write_breakeven
    written += write_breakeven(frame, run_dir)
    for family, part in frame.groupby("family"):
        spec = registry.families().get(family)
        if spec is not None and spec.plot is not None:
            written += _drawn(partial(spec.plot, part, run_dir), f"{family} plot")
        written += _drawn(partial(plots.cap_radar, part, run_dir, family), f"{family} radar")
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


def leaderboard(frame: pd.DataFrame, include_invalid: bool = False) -> pd.DataFrame:
    """Every ranked table in one frame: family, device kind, then the board's columns."""
    boards = [r.board.assign(family=r.family, device_kind=r.device_kind, basis=r.basis,
                             baseline=r.baseline, common=r.common)
              for r in rankings(frame, include_invalid) if not r.board.empty]
    return pd.concat(boards, ignore_index=True) if boards else pd.DataFrame()


def speedup_markdown(frame: pd.DataFrame) -> str:
    out = ["# Speedup over the dense baseline (same device, same run)", "",
           "Cells: median-time speedup and its 95 % interval (bootstrap over paired "
           "rounds); `fail` / `skip` where a row did not run (see results.csv for the "
           f"reason); `{FLAG_MARK.strip()}` marks an ok row with flags, `INVALID` a row left "
           "out of rankings (both listed under the table).", ""]
    for family, part in frame.groupby("family"):
        out += [f"## {family}", "", _speedup_table(part, "speedup"), ""]
        if rank_basis(part) == RANK:
            out += [f"### {family}: over the rank baseline ({baseline_names(part, RANK)})", "",
                    _speedup_table(part, RANK), ""]
        out += flag_lines(part) + invalid_lines(part)
    return "\n".join(out)


def _speedup_table(part: pd.DataFrame, column: str) -> str:
    cell = part.apply(lambda row: _speedup_cell(row, column), axis=1)
    table = part.assign(cell=cell).pivot_table(
        index="instance_label", columns="system", values="cell", aggfunc="first")
    return table.fillna("").to_markdown()


def invalid_lines(part: pd.DataFrame) -> list[str]:
    """One line per (system, reason) of the INVALID rows."""
    counts: dict[tuple[str, str], int] = {}
    for _, row in part[part.get("verdict", pd.Series(dtype=str)) == "INVALID"].iterrows():
        for reason in row["verdict_reasons"] or ():
            key = (row.system, str(reason).split(":")[0])
            counts[key] = counts.get(key, 0) + 1
    lines = [f"- `{system}` INVALID on {n} instance(s): {reason}"
             for (system, reason), n in sorted(counts.items())]
    if not lines:
        return []
    return ["INVALID rows (left out of rankings; full reasons in results.csv):", ""] + \
        lines + [""]


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
    if "threads_used" in ok and ok.threads_used.notna().any():
        table["threads"] = ok.threads_used
    if "verdict" in ok and (ok.verdict == "INVALID").any():
        table["verdict"] = ok.verdict
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
        out += [_markdown(cap_table(part)), ""] + flag_lines(part)
    return "\n".join(out)


def _scope_line(part: pd.DataFrame) -> str:
    scopes = names(part, "timed_scope")
    return f"Timed call: {'; '.join(scopes)}." if scopes else "Timed call: not recorded."


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
    prefix = "speedup" if column == "speedup" else "rank"
    text = interval_text(value, row.get(f"{prefix}_low"), row.get(f"{prefix}_high"))
    text += FLAG_MARK.strip() if _flagged(row) else ""
    return text + (" INVALID" if row.get("verdict") == "INVALID" else "")


def _markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".3g") if not table.empty else "(no rows)"
