"""Kernels run in a worker process: a hang or a crash costs only that system's rows."""

from __future__ import annotations

import pytest

from suite.config import parse_suite
from suite.plan import make_plan
from suite.records import read_records
from suite.runner import RECORDS_FILE, run_plan

SUITE = """
name: isolation
defaults: {warmup: 1, min_repeats: 3, max_repeats: 5, min_time_s: 0.0, max_time_s: 1.0}
workloads:
  - family: toy
    grid: {size: [5, 8]}
systems:
  - {device: cpu, kernel: good}
  - {device: cpu, kernel: %s}
"""


def run_isolated(tmp_path, culprit: str):
    cfg = parse_suite(SUITE % culprit, "isolation.yaml")
    summary = run_plan(make_plan(cfg), cfg, tmp_path, isolation="process")
    rows = {(r.params["size"], r.kernel): r for r in read_records(tmp_path / RECORDS_FILE)}
    return rows, summary


def assert_only_culprit_failed(rows, kernel: str) -> None:
    assert len(rows) == 6  # 2 instances x (dense, good, culprit)
    for size in (5, 8):
        assert rows[(size, "dense")].status == "ok"
        assert rows[(size, "good")].status == "ok" and rows[(size, "good")].speedup
        assert rows[(size, kernel)].status == "failed"


@pytest.mark.slow
def test_a_hanging_kernel_becomes_a_timeout_row_and_the_run_goes_on(tmp_path):
    rows, _ = run_isolated(tmp_path, "hang")
    assert_only_culprit_failed(rows, "hang")
    reason = rows[(5, "hang")].reason
    assert reason.startswith("timeout: ") and "while running cpu/hang" in reason


@pytest.mark.slow
def test_a_segfault_costs_only_the_crashing_systems_rows(tmp_path):
    rows, _ = run_isolated(tmp_path, "crash")
    assert_only_culprit_failed(rows, "crash")
    assert "died of SIGSEGV while running cpu/crash" in rows[(8, "crash")].reason


@pytest.mark.slow
def test_os_exit_in_a_kernel_is_reported_with_its_exit_code(tmp_path):
    cfg_text = SUITE % "crash" + "    options: {how: exit}\n"
    cfg_text = cfg_text.replace("  - {device: cpu, kernel: crash}\n    options: {how: exit}\n",
                                "  - {device: cpu, kernel: crash, options: {how: exit}}\n")
    cfg = parse_suite(cfg_text, "isolation.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path, isolation="process")
    rows = {(r.params["size"], r.kernel): r for r in read_records(tmp_path / RECORDS_FILE)}
    assert "exited with code 3" in rows[(5, "crash")].reason
    assert rows[(5, "good")].status == "ok"


def test_the_worker_gives_the_same_rows_as_in_process(tmp_path):
    rows, _ = run_isolated(tmp_path, "wrong")
    assert rows[(8, "wrong")].reason.startswith("wrong result: max_error")
    assert rows[(8, "good")].status == "ok"
