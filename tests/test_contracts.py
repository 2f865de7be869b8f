"""Harness v2 contracts, proven on a retrieval-shaped family (tests/retrieval_family.py):
one index build for a query sweep, one baseline timing, build time and bytes recorded,
per-query latencies, and recall that ranks higher-is-better."""

from __future__ import annotations

import pytest

import tests.retrieval_family as search
from suite.config import parse_suite
from suite.plan import make_plan
from suite.records import read_records
from suite.runner import RECORDS_FILE, run_plan

SWEEP = """
name: search
defaults: {warmup: 1, min_repeats: 3, max_repeats: 5, min_time_s: 0.0}
workloads:
  - family: toy-search
    grid: {docs: 400, budget: [20, 50, 100, 400]}
    measure: {scenario: %s, queries: 12}
systems:
  - {device: cpu, kernel: pruned-index}
"""


def run_sweep(tmp_path, scenario="batch"):
    cfg = parse_suite(SWEEP % scenario, "search.yaml")
    search.INDEX_BUILDS.clear()
    run_plan(make_plan(cfg), cfg, tmp_path)
    BUILT.append(len(search.INDEX_BUILDS))
    return read_records(tmp_path / RECORDS_FILE)


BUILT: list[int] = []


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return run_sweep(tmp_path_factory.mktemp("sweep"))


def test_a_query_sweep_builds_the_index_once(sweep):
    assert BUILT[0] == 1
    index_rows = [r for r in sweep if r.kernel == "pruned-index"]
    assert len(index_rows) == 4 and all(r.status == "ok" for r in index_rows)
    assert len({r.build_key for r in index_rows}) == 1
    assert sum(not r.artifact_shared for r in index_rows) == 1  # built for the first only


def test_build_time_and_index_bytes_are_in_every_record_that_used_it(sweep):
    for r in (r for r in sweep if r.kernel == "pruned-index"):
        assert r.build_s is not None and r.build_s >= 0
        assert r.artifact_bytes == 400 * 8 + 400 * 16 * 8  # order (int64) + sorted docs
        assert r.prepare_s is not None


def test_the_dense_baseline_is_timed_once_for_the_sweep(sweep):
    baselines = [r for r in sweep if r.is_baseline]
    assert len(baselines) == 4                      # one row per instance ...
    measured = [r for r in baselines if not r.timed_with]
    assert len(measured) == 1                       # ... but one measurement
    assert all(r.samples_s == measured[0].samples_s for r in baselines)
    assert {r.timed_with for r in baselines} - {""} == {measured[0].instance_id}


def test_recall_is_quality_not_validity_and_is_higher_is_better(sweep):
    rows = {r.params["budget"]: r for r in sweep if r.kernel == "pruned-index"}
    assert all(r.valid for r in rows.values())       # computed correctly at every budget
    recalls = [rows[b].accuracy["recall@10"] for b in (20, 50, 100, 400)]
    assert recalls == sorted(recalls) and recalls[-1] == 1.0 and recalls[0] < 1.0
    assert rows[20].accuracy_direction == "higher" and rows[20].accuracy_range == [0.0, 1.0]


def test_the_leaderboard_states_recall_as_higher_is_better(sweep, tmp_path):
    from suite.records import RecordWriter
    from suite.report import write_reports
    writer = RecordWriter(tmp_path / RECORDS_FILE)
    for record in sweep:
        writer.append(record)
    write_reports(tmp_path)
    text = (tmp_path / "cap.md").read_text() + (tmp_path / "leaderboard.md").read_text()
    assert "recall@10 (higher is better" in text
    assert "recall@10 (lower is better" not in text


def test_per_query_keeps_every_latency_and_reports_p99(tmp_path):
    rows = run_sweep(tmp_path, "per_query")
    r = next(r for r in rows if r.kernel == "pruned-index" and r.params["budget"] == 400)
    assert r.status == "ok" and r.scenario == "per_query"
    assert r.calls_per_sample == 1 and r.percentile_basis == "per_call"
    assert r.p50_s <= r.p99_s and r.p99_s is not None
    assert r.units == 1 and r.accuracy["recall@10"] == 1.0
