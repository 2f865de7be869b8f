"""The terminal's per-family summary: one ranking (``suite.ranking``) in under 100 columns.

Columns: rank, system, threads used, ``n`` (instances every ranked system ran), the
geometric-mean speedup with its 95 % interval, the mean over all the system's own rows, the median accuracy (its direction as an arrow: ``↓`` lower is better), the row
counts and a short note (lossy, INVALID rows left out, flagged). Main entry:
``summary_table(ranking, part) -> rich.table.Table``.
"""

from __future__ import annotations

import math

import pandas as pd
from rich import box
from rich.markup import escape
from rich.table import Table

from suite.frames import metric_info
from suite.ranking import RANK, Ranking

SYSTEM_WIDTH = 28


def summary_table(ranking: Ranking, part: pd.DataFrame) -> Table:
    metric = metric_info(part)
    arrow = {"lower": "↓", "higher": "↑"}.get(metric.direction, "?")
    table = Table(title=escape(title(ranking)), box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True, header_style="bold", title_justify="left",
                  caption_justify="left",
                  caption=f"95% bootstrap intervals; {metric.name} {arrow}: "
                          f"{metric.direction or 'unknown'} is better")
    for name, justify in (("#", "right"), ("system", "left"), ("thr", "right"),
                          ("n", "right"), ("speedup [95% CI]", "right"),
                          ("all rows", "right"), (f"{_short(metric.name)}{arrow}", "right"),
                          ("rows", "left"), ("note", "left")):
        table.add_column(escape(name), justify=justify, no_wrap=name != "note",
                         max_width=SYSTEM_WIDTH if name == "system" else None)
    for row in ranking.board.itertuples():
        table.add_row(str(row.rank), escape(row.system), _num(row.threads, "{:.1f}"),
                      str(row.n), _interval(row.geomean, row.low, row.high),
                      f"{_num(row.own_geomean, '{:.3g}x')} ({row.own_n})",
                      _num(row.accuracy, "{:.0e}"), _rows(row),
                      escape(_note(row, ranking.all_invalid)))
    return table


def title(ranking: Ranking) -> str:
    """``spmm on cpu: speedup over cpu/dense; n = 4 instances every system ran``."""
    baselines = ranking.baseline.split(", ")
    over = ("each device's " + ("rank baseline" if ranking.basis == RANK else "dense")
            if len(baselines) > 1 else
            ("rank baseline " if ranking.basis == RANK else "") + ranking.baseline)
    if ranking.board.empty:
        return f"{ranking.family} on {ranking.device_kind}: no system ran here"
    count = (f"n = {ranking.common} instances every system ran" if ranking.common
             else "no instance all ran: each over its own rows")
    text = f"{ranking.family} on {ranking.device_kind}: speedup over {over}; {count}"
    return text + ("; EVERY ROW INVALID (noisy run): shown, not a ranking"
                   if ranking.all_invalid else "")


def _rows(row) -> str:
    parts = [f"{row.ok} ok"]
    parts += [f"{row.failed} fail"] if row.failed else []
    parts += [f"{row.skipped} skip"] if row.skipped else []
    return " ".join(parts)


def _note(row, all_invalid: bool = False) -> str:
    notes = ["lossy"] if row.note else []
    notes += [f"{row.invalid} INVALID"] if row.invalid and not all_invalid else []
    notes += [f"{row.flagged} flagged"] if row.flagged else []
    return ", ".join(notes)


def _interval(value: float, low: float, high: float) -> str:
    if _missing(value):
        return "-"
    if _missing(low) or _missing(high):
        return f"{value:.3g}x"
    return f"{value:.3g}x [{low:.3g}-{high:.3g}]"


def _short(name: str, width: int = 10) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


def _num(value, fmt: str) -> str:
    return "-" if _missing(value) else fmt.format(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
