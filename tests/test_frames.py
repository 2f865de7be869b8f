"""Records to frames: the latest row per key, a metric's recorded direction and its label,
JSON cells in the CSV, pattern kinds, and intervals for rows written before they were kept."""

from __future__ import annotations

import json

import pytest

from suite.frames import (
    MetricInfo,
    accuracy_columns,
    csv_frame,
    metric_info,
    pattern_kind,
    records_frame,
)
from tests.test_report import FEWER, RECALL, a_row


@pytest.mark.parametrize("metric, label", [
    (MetricInfo("rel_error", "lower", 0.0, None), "rel_error (lower is better)"),
    (MetricInfo("recall@10", "higher", 0.0, 1.0), "recall@10 (higher is better, 0-1)"),
    (MetricInfo("corr", "higher", -1.0, 1.0), "corr (higher is better, -1 to 1)"),
    (MetricInfo("mystery"), "mystery (direction not recorded)"),
])
def test_a_metric_label_says_which_way_is_better(metric, label):
    assert metric.label == label


def test_the_direction_comes_from_the_records_not_the_registry():
    frame = records_frame([a_row("search", 1, "cpu/dense", accuracy={"recall@10": 1.0},
                                 **RECALL)])
    assert metric_info(frame) == MetricInfo("recall@10", "higher", 0.0, 1.0)


def test_secondary_metrics_with_values_become_columns():
    declared = {"rel_error": {"direction": "lower", "low": 0.0, "high": None},
                "dropped_token_rate": {"direction": "lower", "low": 0.0, "high": 1.0},
                "unused": {"direction": "higher", "low": None, "high": None}}
    row = a_row("moe", 1, "cpu/capacity", accuracy_metric="rel_error",
                accuracy_direction="lower", accuracy_range=[0.0, None],
                accuracy_metrics=declared, accuracy={"rel_error": 0.8, "dropped_token_rate": 0.1})
    labels = [m.label for m in accuracy_columns(records_frame([row]))]
    assert labels == ["rel_error (lower is better)",
                      "dropped_token_rate (lower is better, 0-1)"]


def test_a_resumed_row_shows_once_and_lists_are_json_in_the_csv():
    first = a_row("search", 1, "cpu/approx", segment=0)
    again = a_row("search", 1, "cpu/approx", segment=1, flags=[FEWER, "other"],
                  extra={"ratio": float("nan")})
    frame = records_frame([first, again])
    assert len(frame) == 1 and frame.segment.iloc[0] == 1 and bool(frame.flagged.iloc[0])
    flat = csv_frame(frame)
    assert json.loads(flat["flags"].iloc[0]) == [FEWER, "other"] and "samples_s" not in flat
    assert json.loads(flat["params"].iloc[0]) == {"size": 1}
    assert json.loads(flat["extra"].iloc[0]) == {"ratio": None}  # NaN is not JSON


@pytest.mark.parametrize("pattern, kind", [
    ("2:4", "N:M"), ("1:8", "N:M"), ("unstructured(0.1)", "unstructured"),
    ("block(8,0.25)", "block"), ("dense", "dense"), (None, "")])
def test_pattern_kinds(pattern, kind):
    assert pattern_kind(pattern) == kind


def test_v1_rows_take_their_baselines_samples_for_an_interval():
    """Records written before rows kept their baseline's samples still get intervals."""
    base = a_row("v1", 1, "cpu/dense", speedup=1.0, samples_s=[2e-3, 2.1e-3, 1.9e-3, 2e-3])
    row = a_row("v1", 1, "cpu/fast", speedup=2.0, samples_s=[1.05e-3, 1e-3, 1e-3, 0.95e-3])
    frame = records_frame([base, row]).set_index("system")
    low, high = frame.loc["cpu/fast", "speedup_low"], frame.loc["cpu/fast", "speedup_high"]
    assert low <= 2.0 <= high and 1.0 < high / low < 1.3
    assert frame.loc["cpu/fast", "device_kind"] == "cpu"
