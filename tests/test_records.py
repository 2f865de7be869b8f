"""The record schema: what a row holds, how it round-trips, and how versions are guarded."""

from __future__ import annotations

import json
import math
from dataclasses import fields

import pytest

from suite.records import SCHEMA_VERSION, RecordWriter, ResultRecord, read_records


def a_record(**changes) -> ResultRecord:
    base = dict(run_id="r", suite="s", family="toy", instance_id="toy/size=1", instance_label="t",
                params={"size": 1}, system="cpu/good", device="cpu", kernel="good", options={},
                is_baseline=False, status="ok")
    return ResultRecord(**{**base, **changes})


def test_the_schema_has_what_design_md_lists():
    names = {f.name for f in fields(ResultRecord)}
    for required in ("status", "reason", "valid", "checks", "samples_s", "median_s", "p10_s",
                     "p90_s", "iqr_s", "speedup", "gflops_useful", "bytes_min",
                     "roofline_fraction", "s_mfu", "s_mbu", "accuracy",
                     "cost_usd_per_million_units", "energy_j", "env_id", "config_hash",
                     "git_commit", "schema_version"):
        assert required in names


def test_round_trip_keeps_values_and_turns_nan_into_null(tmp_path):
    path = tmp_path / "records.jsonl"
    RecordWriter(path).append(a_record(samples_s=[1e-3, 2e-3], speedup=math.nan,
                                       accuracy={"rel_error": 1e-7}))
    raw = json.loads(path.read_text())
    assert raw["speedup"] is None and raw["schema_version"] == SCHEMA_VERSION
    (back,) = read_records(path)
    assert back.samples_s == [1e-3, 2e-3] and back.accuracy == {"rel_error": 1e-7}


def test_a_torn_last_line_is_ignored_and_cut_before_appending(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(a_record().to_json() + "\n" + '{"run_id": "r", "sui')
    assert len(read_records(path)) == 1
    RecordWriter(path).append(a_record(system="cpu/other"))
    assert [r.system for r in read_records(path)] == ["cpu/good", "cpu/other"]


def test_records_from_a_newer_schema_are_refused():
    raw = json.loads(a_record().to_json())
    raw["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="newer than this SparseCAP"):
        ResultRecord.from_dict(raw)


def test_unknown_fields_from_other_versions_are_ignored():
    raw = {**json.loads(a_record().to_json()), "some_future_field": 3}
    assert ResultRecord.from_dict(raw).system == "cpu/good"
