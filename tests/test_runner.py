"""The runner: validated before timed, failures become rows, speedups come from the same run."""

from __future__ import annotations

import pytest

from suite.config import parse_suite
from suite.errors import UserError
from suite.plan import make_plan
from suite.records import read_records
from suite.runner import RECORDS_FILE, run_plan
from tests.conftest import TOY_SUITE


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    summary = run_plan(make_plan(cfg), cfg, out)
    rows = {(r.instance_label, r.kernel): r for r in read_records(out / RECORDS_FILE)}
    return rows, summary, out


def test_every_planned_row_is_recorded_once(toy_run):
    rows, summary, _ = toy_run
    assert len(rows) == len(summary.written) == 2 * 6  # 2 instances x (5 systems + baseline)


def test_a_correct_kernel_is_timed_against_the_interleaved_baseline(toy_run):
    rows, *_ = toy_run
    good = rows[("toy size=8", "good")]
    assert good.status == "ok" and good.valid is True
    assert 3 <= len(good.samples_s) <= 5
    assert good.p10_s <= good.median_s <= good.p90_s
    assert good.baseline_system == "cpu/dense"
    assert good.speedup == pytest.approx(good.baseline_median_s / good.median_s)
    assert rows[("toy size=8", "dense")].speedup == 1.0


def test_a_wrong_result_is_a_failed_row_never_a_fast_one(toy_run):
    rows, *_ = toy_run
    wrong = rows[("toy size=8", "wrong")]
    assert wrong.status == "failed" and wrong.valid is False
    assert wrong.reason.startswith("wrong result: max_error")
    assert wrong.samples_s == [] and wrong.median_s is None and wrong.speedup is None


def test_a_raising_kernel_is_a_failed_row_with_its_reason(toy_run):
    rows, *_ = toy_run
    assert rows[("toy size=5", "boom")].status == "failed"
    assert "RuntimeError: kernel exploded" in rows[("toy size=5", "boom")].reason


def test_unsupported_and_missing_libraries_are_skipped_rows(toy_run):
    rows, *_ = toy_run
    assert rows[("toy size=8", "odd-only")].reason == "needs an odd size"
    assert rows[("toy size=5", "odd-only")].status == "ok"
    assert rows[("toy size=5", "needs-missing")].status == "skipped"
    assert "no_such_module_xyz" in rows[("toy size=5", "needs-missing")].reason


def test_derived_metrics_follow_from_work_and_time(toy_run):
    rows, *_ = toy_run
    r = rows[("toy size=8", "good")]
    assert r.gflop_per_s_useful == pytest.approx(r.flops_useful / r.median_s / 1e9)
    assert r.throughput_units_per_s == pytest.approx(8 / r.median_s)
    assert 0 < r.roofline_fraction and r.s_mbu > 0
    assert r.cost_usd_per_million_units == pytest.approx(
        r.price_usd_per_hour / 3600 * r.median_s / 8 * 1e6)


def test_records_carry_provenance(toy_run):
    rows, *_ = toy_run
    r = rows[("toy size=5", "good")]
    assert r.schema_version == 2 and r.env_id and r.config_hash and r.run_id
    assert r.params == {"size": 5}


def test_a_second_run_into_the_same_directory_needs_resume(tmp_path):
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    with pytest.raises(UserError, match="use --resume"):
        run_plan(make_plan(cfg), cfg, tmp_path)


def test_env_json_holds_the_measured_peaks(toy_run):
    import json
    env = json.loads((toy_run[2] / "env.json").read_text())
    assert env["peaks"]["cpu"]["flops_per_s"] > 1e9
    assert env["peaks"]["cpu"]["bytes_per_s"] > 1e8
    assert env["blas"] and env["libraries"]["numpy"]


def test_an_instance_whose_inputs_cannot_be_built_fails_its_rows_and_the_run_goes_on(tmp_path):
    text = TOY_SUITE.replace("workloads:\n", "workloads:\n  - family: toy-broken\n"
                                              "    grid: {size: [3]}\n")
    text += "  - {device: cpu, kernel: dense, family: toy-broken}\n"
    cfg = parse_suite(text, "toy.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    records = read_records(tmp_path / RECORDS_FILE)
    broken = [r for r in records if r.family == "toy-broken"]
    assert [r.status for r in broken] == ["failed"]
    assert broken[0].reason == ("building the instance failed: MemoryError: cannot allocate "
                                "the inputs (at toy_family.py:" + broken[0].reason.rsplit(":", 1)[1])
    # the toy rows ran as usual: dense and good on both sizes, odd-only on size 5
    assert sum(r.family == "toy" and r.status == "ok" for r in records) == 5


def test_a_stop_request_ends_the_run_after_the_current_job(tmp_path):
    from suite import runner
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    seen = []

    def progress(n=1):
        seen.append(n)
        if sum(seen) >= 1:
            runner.request_stop("SIGTERM")

    summary = run_plan(make_plan(cfg), cfg, tmp_path, progress=progress)
    assert summary.stopped == "SIGTERM"
    assert 0 < len(read_records(tmp_path / RECORDS_FILE)) < 12
    resumed = run_plan(make_plan(cfg), cfg, tmp_path, resume=True)
    assert resumed.stopped is None
    assert len(read_records(tmp_path / RECORDS_FILE)) == 12


def test_shared_artifacts_are_freed_after_their_build_groups_last_job():
    from suite.config import MeasureSettings
    from suite.derive import RunContext
    from suite.execute import Job, JobExecutor, SystemRef
    cfg = parse_suite(TOY_SUITE.replace("kernel: good}", "kernel: indexed}"), "toy.yaml")
    plan = make_plan(cfg, system_patterns=["cpu/indexed"])
    executor = JobExecutor(RunContext("r", "toy", "e", "c", "g", {}))
    for group in plan.build_groups():
        refs = {i.instance_id: [SystemRef.of(s) for s in plan.systems_for(i, plan.devices["cpu"])]
                for i in group}
        write = {(iid, r.system_id) for iid, rs in refs.items() for r in rs}
        records = [m[1] for m in executor.execute(
            Job(group, MeasureSettings(min_repeats=2, min_time_s=0.0), {"cpu": refs}, write))
            if m[0] == "record"]
        assert {r.kernel for r in records} == {"dense", "indexed"}
        indexed = next(r for r in records if r.kernel == "indexed")
        assert indexed.artifact_bytes == 32 and indexed.build_s is not None  # it was cached
        assert len(executor.cache) == 0  # ... and the index died with its group
