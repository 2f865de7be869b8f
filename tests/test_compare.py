"""``run-suite compare`` as CI uses it: same code passes, a slower or less accurate kernel
fails, a row that now fails fails, thresholds per metric and family, exit codes 0 / 1 / 2,
markdown fit for a pull request, and a suspect re-measured before it fails."""

from __future__ import annotations

import numpy as np
import pytest

from suite.compare import compare_frames
from suite.errors import UserError
from suite.report import load_run
from suite.thresholds import Thresholds
from tests.test_cli import run_cli
from tests.test_report import a_row, write_run


def timed(center: float, seed: int, n: int = 30) -> list[float]:
    return list(center * (1 + 0.03 * np.random.default_rng(seed).standard_normal(n)))


def run_rows(seed: int, slower: float = 1.0, error: float = 1e-7,
             status: str = "ok") -> list:
    """An SpMM-like run: dense at 1 ms, ``cpu/fast`` at 0.5 ms x ``slower``, per instance."""
    rows = []
    for size in (1, 2):
        dense = timed(1e-3, seed + size)
        fast = timed(5e-4 * slower, seed + 10 + size)
        common = dict(baseline_samples_s=dense, accuracy_metric="rel_error",
                      accuracy_direction="lower", accuracy_range=[0.0, None])
        rows.append(a_row("spmm", size, "cpu/dense", samples_s=dense, speedup=1.0,
                          median_s=float(np.median(dense)), accuracy={"rel_error": 1e-7},
                          **common))
        extra = {} if status == "ok" else {"status": status, "reason": "boom", "samples_s": []}
        rows.append(a_row("spmm", size, "cpu/fast", **{
            "samples_s": fast, "median_s": float(np.median(fast)),
            "speedup": float(np.median(dense) / np.median(fast)),
            "accuracy": {"rel_error": error}, **common, **extra}))
    return rows


def frames(tmp_path, base_rows, new_rows):
    base = load_run(write_run(tmp_path / "base", base_rows))
    new = load_run(write_run(tmp_path / "new", new_rows))
    return base, new


def test_the_same_code_measured_again_is_no_regression(tmp_path):
    base, new = frames(tmp_path, run_rows(0), run_rows(100))
    result = compare_frames(base, new, Thresholds())
    assert result.regressions == [] and len(result.changes) == 2 + 4
    assert all(abs(c.change) < 0.1 for c in result.changes if c.kind == "speedup")


def test_a_kernel_25_percent_slower_is_a_regression(tmp_path):
    base, new = frames(tmp_path, run_rows(0), run_rows(100, slower=1.25))
    regressions = compare_frames(base, new, Thresholds()).regressions
    assert {(c.instance_id, c.metric) for c in regressions} == {
        ("spmm/size=1", "speedup"), ("spmm/size=2", "speedup")}
    assert all(c.change == pytest.approx(-0.2, abs=0.04) and c.p_value < 1e-6
               for c in regressions)


def test_a_threshold_above_the_change_lets_it_pass(tmp_path):
    base, new = frames(tmp_path, run_rows(0), run_rows(100, slower=1.25))
    loose = Thresholds.parse(["spmm.speedup=30%"], {"spmm"}, {"rel_error"})
    assert compare_frames(base, new, loose).regressions == []


def test_a_less_accurate_but_still_valid_kernel_is_a_regression(tmp_path):
    base, new = frames(tmp_path, run_rows(0), run_rows(100, error=3e-7))
    regressions = compare_frames(base, new, Thresholds()).regressions
    assert {c.metric for c in regressions} == {"rel_error"}
    assert regressions[0].change == pytest.approx(-2.0)  # the error tripled


def test_a_row_that_now_fails_is_a_regression(tmp_path):
    base, new = frames(tmp_path, run_rows(0), run_rows(100, status="failed"))
    regressions = compare_frames(base, new, Thresholds()).regressions
    assert [c.kind for c in regressions] == ["status", "status"]
    assert "failed now: boom" in regressions[0].note


def test_higher_is_better_metrics_regress_when_they_fall():
    from suite.compare import _accuracy_change
    from suite.frames import MetricInfo
    recall = MetricInfo("recall@10", "higher", 0.0, 1.0)
    assert _accuracy_change(0.95, 0.90, recall) == pytest.approx(-1.0)  # misses doubled
    assert _accuracy_change(0.90, 0.95, recall) == pytest.approx(0.5)


@pytest.mark.parametrize("values, key, expected", [
    (["15%"], ("spmm", "speedup", "speedup"), 0.15),
    (["spmm=20%", "speedup=5%"], ("spmm", "speedup", "speedup"), 0.20),
    (["spmm.rel_error=0.5", "accuracy=30%"], ("spmm", "rel_error", "accuracy"), 0.5),
    (["accuracy=30%"], ("moe", "rel_error", "accuracy"), 0.3),
])
def test_the_most_specific_threshold_wins(values, key, expected):
    assert Thresholds.parse(values, {"spmm", "moe"}, {"rel_error"}).of(*key) == expected


@pytest.mark.parametrize("value, message", [
    ("ten", "allowed: [KEY=]PERCENT"), ("spmmm=10%", "got key 'spmmm'"),
    ("-5%", "above 0 %")])
def test_bad_thresholds_are_one_line_errors(value, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Thresholds.parse([value], {"spmm"}, set())


def test_the_cli_exits_0_1_and_2_and_writes_markdown(tmp_path):
    base = write_run(tmp_path / "base", run_rows(0))
    same = write_run(tmp_path / "same", run_rows(100))
    slow = write_run(tmp_path / "slow", run_rows(100, slower=1.25))
    report = tmp_path / "comment.md"
    passed = run_cli("compare", str(base), str(same))
    assert passed.returncode == 0, passed.stderr
    assert "## SparseCAP regression check: PASS: no regression" in passed.stdout
    failed = run_cli("compare", str(base), str(slow), "--markdown", str(report))
    assert failed.returncode == 1, failed.stderr
    text = report.read_text()
    assert "FAIL: 2 regression(s)" in text and "| spmm | spmm size=1 | `cpu/fast` |" in text
    assert "suspects not re-measured" in failed.stderr  # these runs have no run.json
    bad = run_cli("compare", str(base), str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "no records.jsonl here" in bad.stderr


def test_remeasure_runs_only_the_suspect_rows_with_the_runs_own_suite(tmp_path, write_suite):
    from suite.remeasure import remeasure
    suite = write_suite("name: gate\ndefaults: {min_repeats: 3, max_repeats: 3, min_time_s: 0}\n"
                        "workloads:\n  - family: toy\n    grid: {size: [5, 8]}\n"
                        "systems:\n  - {device: cpu, kernel: good}\n"
                        "  - {device: cpu, kernel: odd-only}\n")
    new = tmp_path / "new"
    assert run_cli("--suite", str(suite), "--out", str(new), "--no-progress").returncode == 0
    suite.unlink()  # the run's own suite text is in run.json
    target = next(r for r in load_run(new).itertuples()
                  if r.system == "cpu/good" and r.instance_label == "toy size=8")
    again = remeasure(new, [(target.instance_id, "cpu/good")], progress=False)
    assert sorted(zip(again.instance_label, again.system, strict=True)) == [
        ("toy size=8", "cpu/dense"), ("toy size=8", "cpu/good")]
    assert (new / "remeasure-1" / "records.jsonl").exists()


@pytest.mark.parametrize("again_slower, exit_code", [(1.0, 0), (1.25, 1)])
def test_a_suspect_is_remeasured_before_it_fails(tmp_path, monkeypatch, again_slower,
                                                 exit_code):
    """The first new run landed slow; re-measures at the old speed outvote it (their
    evidence is pooled with it), re-measures as slow confirm it."""
    import argparse

    from suite import gate
    base = write_run(tmp_path / "base", run_rows(0))
    new = write_run(tmp_path / "new", run_rows(100, slower=1.25))
    again = load_run(write_run(tmp_path / "again", run_rows(200, slower=again_slower)))
    calls = []
    monkeypatch.setattr(gate, "remeasure", lambda run, keys: calls.append(keys) or again)
    args = argparse.Namespace(base=str(base), new=new, threshold=None, alpha=None,
                              remeasure=2, markdown=tmp_path / "c.md", baselines=None)
    assert gate.run_gate(args) == exit_code
    assert len(calls) == 2  # one re-measure at the old speed only halves the change
    text = (tmp_path / "c.md").read_text()
    assert ("cleared: with the re-measures it is within noise" in text) == (exit_code == 0)
