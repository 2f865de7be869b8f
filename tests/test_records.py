"""The record schema: what a row holds, how it round-trips, how old rows migrate, and how a
damaged file or a failing disk becomes one line naming the place."""

from __future__ import annotations

import errno
import json
import math
import os
from dataclasses import fields

import pytest

from suite.errors import UserError
from suite.records import (
    SCHEMA_VERSION,
    RecordError,
    RecordWriter,
    ResultRecord,
    read_records,
)


def a_record(**changes) -> ResultRecord:
    base = dict(run_id="r", suite="s", family="toy", instance_id="toy/size=1", instance_label="t",
                params={"size": 1}, system="cpu/good", device="cpu", kernel="good", options={},
                is_baseline=False, status="ok")
    return ResultRecord(**{**base, **changes})


def a_line(**changes) -> str:
    return a_record(**changes).to_json() + "\n"


def a_v1_row() -> dict:
    """A record as SparseCAP wrote it before schema 2 (cut down to what matters here)."""
    raw = json.loads(a_record().to_json())
    for new in ("gflop_per_s_useful", "gflop_per_s_dense_equiv", "bytes_format", "scenario",
                "flags", "p99_s", "accuracy_direction", "accuracy_range", "accuracy_metrics"):
        del raw[new]
    return {**raw, "schema_version": 1, "gflops_useful": 12.5, "gflops_dense_equiv": 25.0,
            "bytes_min": 4096.0, "accuracy": {"rel_error": 1e-7}, "accuracy_metric": "rel_error"}


def test_the_schema_has_what_design_md_lists():
    names = {f.name for f in fields(ResultRecord)}
    for required in ("status", "reason", "flags", "valid", "checks", "scenario", "samples_s",
                     "samples_requested", "percentile_basis", "median_s", "p10_s", "p50_s",
                     "p90_s", "p99_s", "iqr_s", "speedup", "speedup_vs_rank_baseline",
                     "gflop_per_s_useful", "bytes_format", "bytes_activated",
                     "roofline_fraction", "s_mfu", "s_mbu", "accuracy", "accuracy_direction",
                     "accuracy_range", "accuracy_metrics", "build_s", "artifact_bytes",
                     "timed_scope", "segment", "cost_usd_per_million_units", "energy_j",
                     "env_id", "config_hash", "git_commit", "schema_version"):
        assert required in names
    assert SCHEMA_VERSION == 2 and not {"gflops_useful", "bytes_min"} & names


def test_round_trip_keeps_values_and_turns_nan_into_null(tmp_path):
    path = tmp_path / "records.jsonl"
    RecordWriter(path).append(a_record(samples_s=[1e-3, 2e-3], speedup=math.nan,
                                       accuracy={"rel_error": 1e-7}, accuracy_range=[0.0, None],
                                       flags=["fewer_samples: 3 of 5 requested"]))
    raw = json.loads(path.read_text())
    assert raw["speedup"] is None and raw["schema_version"] == SCHEMA_VERSION
    (back,) = read_records(path)
    assert back.samples_s == [1e-3, 2e-3] and back.accuracy == {"rel_error": 1e-7}
    assert back.flags == ["fewer_samples: 3 of 5 requested"] and back.accuracy_range == [0.0, None]


def test_a_v1_record_is_migrated_renamed_fields_and_defaults():
    record = ResultRecord.from_dict(a_v1_row())
    assert (record.gflop_per_s_useful, record.gflop_per_s_dense_equiv) == (12.5, 25.0)
    assert record.bytes_format == 4096.0 and record.schema_version == SCHEMA_VERSION
    assert (record.scenario, record.percentile_basis, record.flags) == ("batch", "per_sample", [])
    assert record.p99_s is None and record.segment == 0 and record.build_key == ""


def test_v1_errors_are_lower_is_better_from_zero_as_v1_tables_read_them():
    record = ResultRecord.from_dict(a_v1_row())
    assert (record.accuracy_direction, record.accuracy_range) == ("lower", [0.0, None])
    assert record.accuracy_metrics == {"rel_error": {"direction": "lower", "low": 0.0,
                                                     "high": None}}


@pytest.mark.parametrize("version", [0, None, "absent"])
def test_a_record_without_a_version_reads_as_v1(version):
    raw = a_v1_row()
    if version == "absent":
        del raw["schema_version"]
    else:
        raw["schema_version"] = version
    assert ResultRecord.from_dict(raw).gflop_per_s_useful == 12.5


def test_a_corrupt_line_in_the_middle_names_the_file_and_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(a_line() + '{"run_id": "r", oops\n' + a_line(system="cpu/other"))
    with pytest.raises(UserError, match=r"records.jsonl:2: not a JSON record \(") as info:
        read_records(path)
    assert "\n" not in str(info.value)


def test_a_torn_last_line_is_ignored_and_cut_before_appending(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(a_line() + '{"run_id": "r", "sui')
    assert len(read_records(path)) == 1
    RecordWriter(path).append(a_record(system="cpu/other"))
    assert [r.system for r in read_records(path)] == ["cpu/good", "cpu/other"]


def test_a_whole_last_record_without_its_newline_is_kept_when_appending(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(a_line() + a_line(system="cpu/edited").rstrip("\n"))
    assert [r.system for r in read_records(path)] == ["cpu/good", "cpu/edited"]
    RecordWriter(path).append(a_record(system="cpu/third"))
    assert [r.system for r in read_records(path)] == ["cpu/good", "cpu/edited", "cpu/third"]


def test_records_from_a_newer_schema_are_refused_with_the_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(a_line() + a_line().replace('"schema_version": 2', '"schema_version": 3'))
    with pytest.raises(UserError, match=r"records.jsonl:2: schema_version 3 is newer than this "
                                        r"SparseCAP reads \(2\); upgrade SparseCAP"):
        read_records(path)


@pytest.mark.parametrize("version", ["2", -1, True, 1.5])
def test_an_unknown_schema_version_is_refused(version):
    raw = {**json.loads(a_record().to_json()), "schema_version": version}
    with pytest.raises(RecordError, match="is unknown; this SparseCAP reads 0 to 2"):
        ResultRecord.from_dict(raw)


def test_a_missing_required_field_is_named(tmp_path):
    raw = json.loads(a_record().to_json())
    del raw["run_id"], raw["status"]
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(raw) + "\n")
    with pytest.raises(UserError, match=r"records.jsonl:1: missing fields run_id, status$"):
        read_records(path)


def test_a_wrong_status_or_type_is_named(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(a_line(status="done"))
    with pytest.raises(UserError, match=r":1: status 'done'; allowed: ok, failed, skipped"):
        read_records(path)
    path.write_text(a_line(median_s="fast"))
    with pytest.raises(UserError, match=r":1: field median_s: got 'fast'; expected float"):
        read_records(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(UserError, match=r":1: a record is a JSON object; got list"):
        read_records(path)


def test_unknown_fields_from_other_versions_are_ignored():
    raw = {**json.loads(a_record().to_json()), "some_future_field": 3}
    assert ResultRecord.from_dict(raw).system == "cpu/good"


def failing_write(code: int, after_bytes: int = 0):
    """An ``os.write`` that writes ``after_bytes`` of the data, then fails with ``code``."""
    real_write = os.write

    def write(fd, data):
        if after_bytes:
            real_write(fd, bytes(data[:after_bytes]))
        raise OSError(code, os.strerror(code))

    return write


def test_a_full_disk_is_one_line_and_keeps_what_was_written(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    writer = RecordWriter(path)
    writer.append(a_record())
    monkeypatch.setattr(os, "write", failing_write(errno.ENOSPC, after_bytes=20))
    with pytest.raises(UserError) as info:
        writer.append(a_record(system="cpu/other"))
    monkeypatch.undo()
    assert str(info.value) == (f"{path}: cannot write records: No space left on device "
                               "(ENOSPC); the records written before are kept")
    assert path.read_text() == a_line()  # the half-written line was cut back
    assert [r.system for r in read_records(path)] == ["cpu/good"]


@pytest.mark.parametrize("code, name", [(errno.EROFS, "EROFS"), (errno.EACCES, "EACCES")])
def test_a_read_only_place_is_one_line(tmp_path, monkeypatch, code, name):
    path = tmp_path / "records.jsonl"
    path.write_text(a_line())
    real_open = os.open

    def read_only_open(file, flags, *args):
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(code, os.strerror(code), str(file))
        return real_open(file, flags, *args)

    monkeypatch.setattr(os, "open", read_only_open)
    with pytest.raises(UserError, match=rf"records.jsonl: cannot write records: .*\({name}\)"):
        RecordWriter(path).append(a_record(system="cpu/other"))
    monkeypatch.undo()
    assert [r.system for r in read_records(path)] == ["cpu/good"]
