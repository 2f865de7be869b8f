"""Records to a pandas DataFrame: the reporting edge, and the only place pandas is used.

Main entry: ``records_frame(records) -> DataFrame`` with one row per (instance, system) and
flat columns (``accuracy_value`` is the family's accuracy metric; ``density`` where known).
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from suite.records import ResultRecord

COLUMNS = ["family", "instance_id", "instance_label", "system", "device", "kernel",
           "is_baseline", "status", "reason", "median_s", "p10_s", "p90_s", "iqr_s",
           "speedup", "gflops_useful", "gflops_dense_equiv", "throughput_units_per_s",
           "unit_name", "roofline_fraction", "s_mfu", "s_mbu", "accuracy_metric",
           "accuracy_value", "cost_usd_per_million_units", "energy_j_per_unit", "density"]


def records_frame(records: list[ResultRecord]) -> pd.DataFrame:
    """Latest record per (instance, system); a resumed run never shows a row twice."""
    latest: dict[tuple[str, str], ResultRecord] = {}
    for record in records:
        latest[record.key] = record
    rows = []
    for record in latest.values():
        row = asdict(record)
        row["accuracy_value"] = record.accuracy.get(record.accuracy_metric)
        row["density"] = _density(record)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    return frame


def _density(record: ResultRecord) -> float | None:
    """Non-zero fraction of the weights, from the record's work (useful / dense FLOPs)."""
    if record.flops_dense and record.flops_useful is not None:
        return record.flops_useful / record.flops_dense
    return None
