"""``leaderboard.md``: the fair rankings of ``suite.ranking`` as markdown, and the run's noise.

One section per (family, device kind): what the ratio is taken against, over how many
instances every ranked system ran, the ranked table (threads used, geometric-mean ratio
with its 95 % interval, best, the mean over all of a system's own rows, accuracy, counts,
a note for lossy systems), the same by instance group (pattern kind), the systems that did
not rank and why, and how many INVALID rows were left out. Main entry:
``leaderboard_markdown(frame, env) -> str``; ``interval_text`` formats ``1.52x [1.41, 1.60]``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from suite.frames import metric_info
from suite.ranking import RANK, Ranking, by_group, overhead_only, rankings

FLAG_MARK = " !"


def leaderboard_markdown(frame: pd.DataFrame, env: dict[str, Any] | None = None,
                         include_invalid: bool = False) -> str:
    out = ["# Leaderboard", "",
           "Systems ranked per family and device kind (CPU kernels never among simulated "
           "arrays or GPUs) by the geometric mean of their speedup over a baseline measured "
           "in the same run, interleaved: the family's rank baseline where its records name "
           "one, else the dense baseline of the device. The mean is over the instances "
           "every ranked system ran (`n`); `all rows` is each system's mean over its own. "
           "Intervals: 95 % bootstrap over paired rounds. INVALID rows (too noisy, or "
           "faster than the measured roofline) are left out.", ""]
    out += verdict_lines(env)
    for ranking in rankings(frame, include_invalid):
        part = frame[(frame.family == ranking.family)
                     & (frame.device_kind == ranking.device_kind)]
        out += section(ranking, part[~overhead_only(part)], include_invalid)
    overhead = frame[overhead_only(frame) & (frame.status == "ok")]
    if not overhead.empty:
        per_call_us = overhead.median_s.median() * 1e6
        out += [f"Harness overhead (null system, not ranked): {per_call_us:.3g} µs per call, "
                "median over instances.", ""]
    return "\n".join(out)


def verdict_lines(env: dict[str, Any] | None) -> list[str]:
    noise = (env or {}).get("noise") or {}
    if not noise.get("verdict"):
        return []
    reasons = "; ".join(noise.get("reasons") or []) or "no sign of noise"
    return [f"**Run verdict: {noise['verdict']}** ({reasons}).", ""]


def section(ranking: Ranking, part: pd.DataFrame, include_invalid: bool) -> list[str]:
    out = [heading(ranking), ""]
    if ranking.all_invalid:
        out += ["**Every timed row here is INVALID (a noisy run): the table shows them "
                "for information; it is not a ranking.**", ""]
    if ranking.board.empty:
        out += ["No system has a usable row here.", ""]
    else:
        out += [markdown(board_table(ranking, part)), ""]
    groups = by_group(part, ranking.basis, include_invalid)
    if not groups.empty:
        out += ["By pattern kind (geometric mean over each system's rows of that kind):", "",
                markdown(groups), ""]
    notes = [f"- `{r.system}`: {r.note}" for r in ranking.board.itertuples() if r.note]
    if notes:
        out += ["Lossy systems (ranked by speed, not by what they compute):", ""] + notes + [""]
    if not ranking.not_ranked.empty:
        out += ["Not ranked (no usable row):", ""]
        out += [f"- `{r.system}` {r.status} on {r.rows} instance(s): {r.why}"
                for r in ranking.not_ranked.itertuples()] + [""]
    if ranking.left_out:
        out += [f"{ranking.left_out} INVALID row(s) left out of this ranking (their "
                "reasons are in `speedup.md` and `results.csv`).", ""]
    return out + flag_lines(part)


def heading(ranking: Ranking) -> str:
    over = (f"the rank baseline ({ranking.baseline}), not dense" if ranking.basis == RANK
            else f"dense ({ranking.baseline}, same device)")
    count = (f"geomean over the {ranking.common} instance(s) every ranked system ran"
             if ranking.common else "no instance every system ran: each over its own rows")
    return f"## {ranking.family} on {ranking.device_kind}: speedup over {over}; {count}"


def board_table(ranking: Ranking, part: pd.DataFrame) -> pd.DataFrame:
    board = ranking.board
    label = metric_info(part).label
    table = pd.DataFrame({
        "rank": board["rank"], "system": board.system,
        "threads": board.threads.map(lambda t: "-" if math.isnan(t) else f"{t:.1f}"),
        "n": board.n,
        "speedup [95% CI]": [interval_text(r.geomean, r.low, r.high)
                             for r in board.itertuples()],
        "best": board.best.map(lambda v: _x(v)),
        "all rows (n)": [f"{_x(r.own_geomean)} ({r.own_n})" for r in board.itertuples()]})
    if ranking.basis == RANK:
        table["vs dense"] = board.vs_dense.map(_x)
    table[f"median {label}"] = board.accuracy.map(lambda v: "-" if math.isnan(v) else f"{v:.3g}")
    table["ok/failed/skipped"] = [f"{r.ok}/{r.failed}/{r.skipped}" for r in board.itertuples()]
    if board.invalid.any():
        table["INVALID"] = board.invalid
    if board.flagged.any():
        table["flagged"] = board.flagged
    return table


def interval_text(value: float, low: float | None, high: float | None) -> str:
    """``1.52x [1.41, 1.60]`` (or just ``1.52x`` without an interval)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if low is None or high is None or any(isinstance(v, float) and math.isnan(v)
                                          for v in (low, high)):
        return _x(value)
    return f"{_x(value)} [{low:.3g}, {high:.3g}]"


def flag_lines(part: pd.DataFrame) -> list[str]:
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


def markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".3g") if not table.empty else "(no rows)"


def _x(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}x"
