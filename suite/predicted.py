"""Predicted (simulated) beside achieved (measured) speedup, for instances run on both.

For every instance with ok rows on a simulated device (``sim:...``) and on a measured one
(``cpu``, ``cuda``...), one row per (measured device, simulated device): the best sparse
system's speedup over its own device's dense baseline on each, and achieved / predicted.
Both speedups are same-run ratios over the dense system of the same device, so the table
compares what the array model promises with what a real kernel delivers for the same
layer, mask and shape. Main entries: ``predicted_vs_achieved(frame) -> DataFrame``,
``predicted_markdown(frame) -> str``.
"""

from __future__ import annotations

import math

import pandas as pd

COLUMNS = ["family", "instance", "measured device", "achieved", "by", "simulated device",
           "predicted", "by (sim)", "achieved / predicted"]


def _is_sim(device: str) -> bool:
    return str(device).startswith("sim:")


def _best(rows: pd.DataFrame) -> tuple[float, str] | None:
    """The fastest non-baseline system with a speedup, doing real work (not ``null``)."""
    usable = rows[(rows.status == "ok") & ~rows.is_baseline.astype(bool)
                  & rows.speedup.notna() & (rows.kernel != "null")]
    if usable.empty:
        return None
    top = usable.loc[usable.speedup.astype(float).idxmax()]
    return float(top.speedup), str(top.kernel)


def predicted_vs_achieved(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (family, label), part in frame.groupby(["family", "instance_label"]):
        devices = sorted(set(part.device))
        for measured in (d for d in devices if not _is_sim(d)):
            achieved = _best(part[part.device == measured])
            for simulated in (d for d in devices if _is_sim(d)):
                predicted = _best(part[part.device == simulated])
                if achieved is None or predicted is None:
                    continue
                rows.append([family, label, measured, achieved[0], achieved[1], simulated,
                             predicted[0], predicted[1], achieved[0] / predicted[0]])
    return pd.DataFrame(rows, columns=COLUMNS)


def predicted_markdown(frame: pd.DataFrame) -> str:
    table = predicted_vs_achieved(frame)
    head = ("# Predicted vs achieved speedup\n\n"
            "Each speedup is over the dense system of its own device, measured (or simulated) "
            "in the same run; `by` names the fastest sparse system. Achieved / predicted below 1 "
            "means the real kernel delivers less than the array model promises.\n\n")
    if table.empty:
        return head + "No instance ran on both a simulated and a measured device.\n"
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for row in table.itertuples(index=False):
        cells = [_cell(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def _cell(value) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.2f}"
    return str(value).replace("|", "\\|")
