"""Records to pandas DataFrames, and what a family's rows say about their metrics.

The reporting edge, and the only place pandas meets records. Main entries:
``records_frame(records)`` (one row per (instance, system), flat columns), ``metric_info(part)``
(an accuracy metric's direction and range as the records state them, with its table
``label``), ``accuracy_columns(part)`` (every metric of a family that has values),
``accuracy_values(part, name)``, ``names(part, column)`` and ``csv_frame(frame)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import pandas as pd

from suite.records import ResultRecord

DIRECTIONS = ("higher", "lower")
DERIVED = ["accuracy_value", "density", "flagged"]
COLUMNS = [f.name for f in fields(ResultRecord)] + DERIVED
RAW_ONLY = ["samples_s", "baseline_samples_s", "checks"]  # in records.jsonl, not in the CSV


@dataclass(frozen=True)
class MetricInfo:
    """One accuracy metric as recorded: ``direction`` is "higher", "lower" or "" (unknown)."""

    name: str
    direction: str = ""
    low: float | None = None
    high: float | None = None

    @property
    def known(self) -> bool:
        return self.direction in DIRECTIONS

    @property
    def label(self) -> str:
        """``rel_error (lower is better)``, ``recall@10 (higher is better, 0-1)``."""
        if not self.known:
            return f"{self.name} (direction not recorded)"
        bounded = self.low is not None and self.high is not None
        span = f"{self.low:g}{' to ' if self.low < 0 else '-'}{self.high:g}" if bounded else ""
        return f"{self.name} ({self.direction} is better{', ' + span if span else ''})"


def records_frame(records: list[ResultRecord]) -> pd.DataFrame:
    """Latest record per (instance, system); a resumed run never shows a row twice."""
    latest: dict[tuple[str, str], ResultRecord] = {}
    for record in records:
        latest[record.key] = record
    rows = [_row(record) for record in latest.values()]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=COLUMNS)


def _row(record: ResultRecord) -> dict:
    row = asdict(record)
    row["accuracy_value"] = record.accuracy.get(record.accuracy_metric)
    row["density"] = _density(record)
    row["flagged"] = bool(record.flags)
    return row


def _density(record: ResultRecord) -> float | None:
    """Non-zero fraction of the weights, from the record's work (useful / dense FLOPs)."""
    if record.flops_dense and record.flops_useful is not None:
        return record.flops_useful / record.flops_dense
    return None


def metric_info(part: pd.DataFrame, name: str | None = None) -> MetricInfo:
    """The family's primary metric (or ``name``) with the direction and range its rows record."""
    primary = _first(part.get("accuracy_metric"))
    name = name or primary or "accuracy"
    if name == primary:
        rows = part[part.accuracy_metric == name]
        direction = _first(rows.get("accuracy_direction"))
        if direction in DIRECTIONS:
            low, high = _bounds(_first(rows.get("accuracy_range"), empty=()))
            return MetricInfo(name, direction, low, high)
    declared = [m[name] for m in _values(part.get("accuracy_metrics"))
                if isinstance(m, dict) and isinstance(m.get(name), dict)]
    if declared:
        spec = declared[0]
        return MetricInfo(name, str(spec.get("direction") or ""),
                          _number(spec.get("low")), _number(spec.get("high")))
    return MetricInfo(name)


def accuracy_columns(part: pd.DataFrame) -> list[MetricInfo]:
    """The primary metric first, then every other declared metric with a value in some row."""
    primary = metric_info(part)
    seen = [primary.name]
    for declared in _values(part.get("accuracy_metrics")):
        for name in declared if isinstance(declared, dict) else ():
            if name not in seen and accuracy_values(part, name).notna().any():
                seen.append(name)
    return [primary] + [metric_info(part, name) for name in seen[1:]]


def accuracy_values(part: pd.DataFrame, name: str) -> pd.Series:
    """Each row's value of metric ``name`` (NaN where the row has none)."""
    values = part.accuracy.apply(lambda acc: acc.get(name) if isinstance(acc, dict) else None)
    return pd.to_numeric(values, errors="coerce")


def names(part: pd.DataFrame, column: str) -> list[str]:
    """The distinct non-empty strings of a column, in first-seen order."""
    return [v for v in dict.fromkeys(_values(part.get(column))) if isinstance(v, str) and v]


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``results.csv``: raw samples and checks left out, flags as text, dicts as JSON."""
    flat = frame.drop(columns=RAW_ONLY, errors="ignore").copy()
    if "flags" in flat:
        flat["flags"] = flat["flags"].apply(lambda f: "; ".join(map(str, f)) if isinstance(f, list) else "")
    for column in ("accuracy_range", "accuracy_metrics", "semantics"):
        if column in flat:
            flat[column] = flat[column].apply(json.dumps)
    return flat


def _values(column: pd.Series | None) -> list:
    return [] if column is None else list(column)


def _first(column: pd.Series | None, empty=""):
    for value in _values(column):
        if isinstance(value, (str, list)) and value:
            return value
    return empty


def _bounds(pair) -> tuple[float | None, float | None]:
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return _number(pair[0]), _number(pair[1])
    return None, None


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
