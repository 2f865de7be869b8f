"""Reports from records alone: leaderboard ranking, speedup cells, CAP table and radar."""

from __future__ import annotations

import pandas as pd
import pytest

from suite.config import parse_suite
from suite.plan import make_plan
from suite.plots import radar_scores, radar_summary
from suite.report import leaderboard, load_run, write_reports
from suite.runner import run_plan

SUITE = """
name: r
defaults: {warmup: 0, min_repeats: 3, max_repeats: 3, min_time_s: 0}
workloads:
  - family: toy
    grid: {size: [64, 128]}
systems:
  - {device: cpu, kernel: good}
  - {device: cpu, kernel: wrong}
  - {device: cpu, kernel: "null"}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = parse_suite(SUITE, "r.yaml")
    run_plan(make_plan(cfg), cfg, out)
    write_reports(out)
    return out


def test_reports_and_plots_are_written(run_dir):
    for name in ("results.csv", "leaderboard.md", "speedup.md", "cap.md", "toy_cap_radar.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir / "toy_cap_radar.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_leaderboard_ranks_working_systems_and_leaves_out_the_null_system(run_dir):
    board = leaderboard(load_run(run_dir))
    assert list(board.system) [:2] == ["cpu/good", "cpu/dense"] or \
        list(board.system)[:2] == ["cpu/dense", "cpu/good"]
    assert "cpu/null" not in set(board.system)
    wrong = board[board.system == "cpu/wrong"].iloc[0]
    assert wrong.failed == 2 and pd.isna(wrong.geomean_speedup) and wrong["rank"] == 3
    assert "Harness overhead (null system, not ranked)" in (run_dir / "leaderboard.md").read_text()


def test_speedup_table_marks_failed_rows(run_dir):
    text = (run_dir / "speedup.md").read_text()
    assert "| toy size=64" in text and "fail" in text and "1.00x" in text


def test_radar_scores_put_the_best_system_at_one_on_each_axis():
    frame = pd.DataFrame({
        "system": ["a", "b"], "status": ["ok", "ok"],
        "throughput_units_per_s": [100.0, 50.0], "cost_usd_per_million_units": [2.0, 1.0],
        "accuracy_value": [0.0, 0.25], "s_mfu": [0.1, 0.2], "s_mbu": [0.4, 0.1]})
    scores = radar_scores(radar_summary(frame))
    assert scores.loc["a"].tolist() == pytest.approx([1.0, 0.5, 1.0, 0.5, 1.0])
    assert scores.loc["b"].tolist() == pytest.approx([0.5, 1.0, 0.75, 1.0, 0.25])
