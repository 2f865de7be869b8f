"""Fair rankings: per family and device kind, over the instances every ranked system ran.

CPU kernels are never ranked among simulated arrays or GPUs (``device_kind``). Within one
(family, device kind), a system's score is the geometric mean of its ratio (over the
family's rank baseline where its records carry one, MoE: the per-expert loop; else over
the dense baseline of the device) across the instances *every* ranked system ran, with
that count and a bootstrap interval (``suite.uncertainty.geomean_interval``); its mean
over all its own rows is shown beside. INVALID rows (``suite.noise``) are left out unless
``include_invalid``; systems with no usable row are listed apart with why, never as rows
of ``nan``. A system whose answers are lossy (it declares so, e.g. ``drops_tokens``, or
its error is orders of magnitude the baseline's) keeps its rank by speed but carries a
note saying what it gives up. Main entry: ``rankings(frame) -> list[Ranking]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite import uncertainty
from suite.frames import metric_info, names

RANK = "speedup_vs_rank_baseline"
LOSSY_SEMANTICS = ("drops_tokens", "approximate", "lossy")
LOSSY_FACTOR = 100.0   # error this many times the baseline's (and above LOSSY_FLOOR) is lossy
LOSSY_FLOOR = 1e-3


@dataclass
class Ranking:
    """One ranked table: ``board`` (ranked systems), ``not_ranked`` (system, why)."""

    family: str
    device_kind: str
    basis: str
    baseline: str
    common: int
    left_out: int
    board: pd.DataFrame
    not_ranked: pd.DataFrame
    all_invalid: bool = False  # every timed row INVALID: the board shows them, unranked


def rankings(frame: pd.DataFrame, include_invalid: bool = False) -> list[Ranking]:
    ranked = frame[~overhead_only(frame)]
    out = []
    for (family, kind), part in ranked.groupby(["family", "device_kind"], sort=True):
        out.append(rank_part(family, kind, part, include_invalid))
    return out


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


def usable(part: pd.DataFrame, basis: str, include_invalid: bool) -> pd.DataFrame:
    """Ok rows with a ratio in ``basis``, INVALID ones left out unless asked for."""
    ok = part[(part.status == "ok") & pd.to_numeric(part[basis], errors="coerce").notna()]
    if not include_invalid and "verdict" in ok:
        ok = ok[ok.verdict != "INVALID"]
    return ok


def rank_part(family: str, kind: str, part: pd.DataFrame,
              include_invalid: bool = False) -> Ranking:
    """One (family, device kind). Where every timed row is INVALID (a noisy run) the
    board shows them all, marked ``all_invalid``, rather than nothing."""
    basis = rank_basis(part)
    rows = usable(part, basis, include_invalid)
    all_invalid = rows.empty and not usable(part, basis, True).empty
    if all_invalid:
        rows = usable(part, basis, True)
    systems = list(dict.fromkeys(rows.system))
    common = _common(rows, systems)
    board = pd.DataFrame([_board_row(part, rows, system, basis, common) for system in systems])
    if not board.empty:
        board = board.sort_values("geomean", ascending=False, na_position="last", kind="stable")
        board.insert(0, "rank", range(1, len(board) + 1))
    timed = part[(part.status == "ok") & pd.to_numeric(part[basis], errors="coerce").notna()]
    return Ranking(family, kind, basis, baseline_names(part, basis), len(common),
                   int(len(timed) - len(rows)), board.reset_index(drop=True),
                   _not_ranked(part, systems), all_invalid)


def _common(rows: pd.DataFrame, systems: list[str]) -> list[str]:
    """Instances every ranked system has a usable row on (all of theirs if none is shared)."""
    sets = [set(rows[rows.system == s].instance_id) for s in systems]
    shared = set.intersection(*sets) if sets else set()
    return sorted(shared)


def _board_row(part: pd.DataFrame, rows: pd.DataFrame, system: str, basis: str,
               common: list[str]) -> dict:
    mine = rows[rows.system == system]
    over = mine[mine.instance_id.isin(common)] if common else mine
    ratios = pd.to_numeric(over[basis], errors="coerce")
    interval = uncertainty.geomean_interval(_pairs(over, basis))
    all_rows = part[part.system == system]
    return {
        "system": system, "threads": _median(all_rows.get("threads_used")),
        "n": int(len(over)), "geomean": geomean(ratios),
        "low": interval[0] if interval else math.nan,
        "high": interval[1] if interval else math.nan,
        "best": float(ratios.max()) if len(ratios) else math.nan,
        "own_n": int(len(mine)), "own_geomean": geomean(pd.to_numeric(mine[basis])),
        "vs_dense": geomean(pd.to_numeric(mine.speedup, errors="coerce")),
        "accuracy": _median(mine.accuracy_value),
        "ok": int((all_rows.status == "ok").sum()),
        "failed": int((all_rows.status == "failed").sum()),
        "skipped": int((all_rows.status == "skipped").sum()),
        "invalid": int((all_rows.get("verdict") == "INVALID").sum()),
        "flagged": int(all_rows.flagged.sum()) if "flagged" in all_rows else 0,
        "note": lossy_note(part, mine),
    }


def _pairs(rows: pd.DataFrame, basis: str) -> list[tuple[list, list]]:
    column = "rank_baseline_samples_s" if basis == RANK else "baseline_samples_s"
    return [(r[column], r["samples_s"]) for _, r in rows.iterrows()
            if isinstance(r.get(column), list) and r.get(column)]


def lossy_note(part: pd.DataFrame, mine: pd.DataFrame) -> str:
    """What a lossy system gives up, in words ('' when its answers are as good)."""
    declared = sorted({key for sem in mine.get("semantics", []) if isinstance(sem, dict)
                       for key in LOSSY_SEMANTICS if sem.get(key)})
    metric = metric_info(part)
    mine_value = _median(mine.accuracy_value)
    base = part[part.is_baseline.astype(bool) & (part.status == "ok")]
    base_value = _median(base.accuracy_value)
    far = (metric.direction == "lower" and not math.isnan(mine_value)
           and mine_value > max(LOSSY_FLOOR, LOSSY_FACTOR * (0 if math.isnan(base_value)
                                                             else base_value)))
    if not declared and not far:
        return ""
    what = ", ".join(k.replace("_", " ") for k in declared) or "lossy"
    return (f"{what}: median {metric.name} {mine_value:.2g} vs {base_value:.2g} for the "
            "dense baseline; ranked by speed only")


def _not_ranked(part: pd.DataFrame, ranked: list[str]) -> pd.DataFrame:
    """Systems with no usable row, with their statuses and the most common reason."""
    rows = []
    for system, mine in part[~part.system.isin(ranked)].groupby("system"):
        statuses = mine.status.value_counts()
        status = statuses.index[0]
        reasons = mine[mine.status == status].reason
        if status == "ok":
            status = "INVALID"
            reasons = mine[mine.verdict == "INVALID"].verdict_reasons.apply(
                lambda r: r[0] if isinstance(r, list) and r else "")
        why = reasons.mode().iloc[0] if len(reasons) and reasons.mode().size else ""
        rows.append({"system": system, "status": status, "rows": int(len(mine)),
                     "why": why})
    return pd.DataFrame(rows, columns=["system", "status", "rows", "why"])


def geomean(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").dropna()
    values = values[values > 0]
    return float(np.exp(np.log(values).mean())) if len(values) else math.nan


def _median(values) -> float:
    if values is None:
        return math.nan
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.median()) if len(values) else math.nan


def by_group(part: pd.DataFrame, basis: str, include_invalid: bool = False,
             column: str = "pattern_kind") -> pd.DataFrame:
    """System x instance group (e.g. pattern kind): ``1.52x (n=4)``; empty with < 2 groups."""
    rows = usable(part, basis, include_invalid)
    groups = [g for g in dict.fromkeys(rows.get(column, [])) if isinstance(g, str) and g]
    if len(groups) < 2:
        return pd.DataFrame()
    table = {}
    for group in groups:
        inside = rows[rows[column] == group]
        table[group] = {system: f"{geomean(mine[basis]):.3g}x (n={len(mine)})"
                        for system, mine in inside.groupby("system")}
    return pd.DataFrame(table).fillna("-").rename_axis("system").reset_index()
