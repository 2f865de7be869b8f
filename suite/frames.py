"""Records to pandas DataFrames, and what a family's rows say about their metrics.

The reporting edge, and the only place pandas meets records. Each row is first re-read
with what the whole run knows (``suite.reassess``: best peaks, intervals, verdicts) and
gets derived columns: ``device_kind`` (``sim:a`` -> ``sim``), ``pattern_kind`` (N:M,
unstructured, block, dense, from a ``pattern`` parameter), ``speedup_low``/``_high`` and
``rank_low``/``_high`` (the intervals). Main entries:
``records_frame(records, peaks)`` (one row per (instance, system), flat columns), ``metric_info(part)``
(an accuracy metric's direction and range as the records state them, with its table
``label``), ``accuracy_columns(part)`` (every metric of a family that has values),
``accuracy_values(part, name)``, ``names(part, column)`` and ``csv_frame(frame)``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields

import pandas as pd

from suite.reassess import reassess
from suite.records import ResultRecord

DIRECTIONS = ("higher", "lower")
DERIVED = ["accuracy_value", "density", "flagged", "device_kind", "pattern_kind",
           "speedup_low", "speedup_high", "rank_low", "rank_high"]
COLUMNS = [f.name for f in fields(ResultRecord)] + DERIVED
RAW_ONLY = ["samples_s", "baseline_samples_s", "rank_baseline_samples_s", "checks"]
NM = re.compile(r"^\d+:\d+$")


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


def records_frame(records: list[ResultRecord],
                  peaks: dict[str, dict[str, float]] | None = None) -> pd.DataFrame:
    """Latest record per (instance, system); a resumed run never shows a row twice.

    ``peaks``: device -> the run's best peaks (``suite.reassess.best_peaks``).
    """
    latest: dict[tuple[str, str], ResultRecord] = {}
    for record in records:
        latest[record.key] = record
    raw = {key: asdict(record) for key, record in latest.items()}
    _fill_baseline_samples(raw)
    rows = [_row(raw[key], record, peaks or {}) for key, record in latest.items()]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=COLUMNS)


def _fill_baseline_samples(raw: dict[tuple[str, str], dict]) -> None:
    """Rows written before records kept their baseline's samples (v1) take them from the
    baseline's own row of the same instance, so their intervals can be computed."""
    for row in raw.values():
        if row["status"] == "ok" and not row.get("baseline_samples_s"):
            base = raw.get((row["instance_id"], row.get("baseline_system") or ""))
            if base is not None and base["status"] == "ok":
                row["baseline_samples_s"] = list(base["samples_s"])


def _row(row: dict, record: ResultRecord, peaks: dict[str, dict[str, float]]) -> dict:
    row = reassess(row, peaks)
    row["accuracy_value"] = record.accuracy.get(record.accuracy_metric)
    row["density"] = _density(record)
    row["flagged"] = bool(record.flags)
    row["device_kind"] = record.device.partition(":")[0]
    row["pattern_kind"] = pattern_kind(record.params.get("pattern"))
    for prefix, column in (("speedup", "speedup_ci"), ("rank", "speedup_vs_rank_baseline_ci")):
        pair = row.get(column) or []
        row[f"{prefix}_low"], row[f"{prefix}_high"] = (pair if len(pair) == 2
                                                       else (None, None))
    return row


def pattern_kind(pattern) -> str:
    """``2:4`` -> ``N:M``; ``unstructured(0.1)`` -> ``unstructured``; ``block(8,0.25)`` ->
    ``block``; ``dense``; "" where an instance has no pattern parameter."""
    if not isinstance(pattern, str) or not pattern:
        return ""
    if NM.match(pattern):
        return "N:M"
    return pattern.split("(", 1)[0]


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
    """``results.csv``: raw samples and checks left out; every list or dict cell is JSON
    (``["a", "b"]``, ``{"n": 1}``), never a Python repr, so any tool can parse it."""
    flat = frame.drop(columns=RAW_ONLY, errors="ignore").copy()
    for column in flat.columns:
        if flat[column].apply(lambda v: isinstance(v, (list, dict, tuple))).any():
            flat[column] = flat[column].apply(_json_cell)
    return flat


def _json_cell(value) -> str:
    """A list or dict as JSON (NaN and infinities as null); any other value as it is."""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(_nulls(value), default=str)
    return value


def _nulls(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nulls(v) for v in value]
    return value


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
