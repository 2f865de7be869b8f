"""Reports from records alone: fair ranking (per device kind, over the instances every system
ran, INVALID rows left out, systems that only failed listed apart, lossy systems noted),
intervals in the cells, roofline re-taken against the run's best peaks, headers that state
each metric's direction, flagged rows marked, build columns, and old v1 run directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from suite.frames import MetricInfo
from suite.plots import radar_scores, radar_summary
from suite.records import RecordWriter, ResultRecord
from suite.report import leaderboard, load_run, write_reports

REPO = Path(__file__).resolve().parents[1]
FEWER = "fewer_samples: 3 of 5 requested (max_time_s 2 s reached)"
RECALL = {"accuracy_metric": "recall@10", "accuracy_direction": "higher",
          "accuracy_range": [0.0, 1.0],
          "accuracy_metrics": {"recall@10": {"direction": "higher", "low": 0.0, "high": 1.0}}}


def a_row(family: str, size: int, system: str, **fields) -> ResultRecord:
    """One ok row of ``family`` on instance ``size``; ``fields`` override anything."""
    kernel = system.split("/")[1]
    base = dict(run_id="r", suite="s", family=family, instance_id=f"{family}/size={size}",
                instance_label=f"{family} size={size}", params={"size": size}, system=system,
                device="cpu", kernel=kernel, options={}, is_baseline=kernel == "dense",
                status="ok", baseline_system="cpu/dense", unit_name="query", units=size,
                samples_s=[1e-3] * 3, median_s=1e-3, p10_s=1e-3, p90_s=1e-3)
    return ResultRecord(**{**base, **fields})


def search_rows() -> list[ResultRecord]:
    """A retrieval-like family: recall@10, higher is better; one flagged row, one failed."""
    rows = []
    for size in (10, 20):
        perf = dict(throughput_units_per_s=1e3 * size, s_mfu=0.1, s_mbu=0.2, **RECALL)
        rows += [
            a_row("search", size, "cpu/dense", speedup=1.0, accuracy={"recall@10": 1.0},
                  cost_usd_per_million_units=4.0, **perf),
            a_row("search", size, "cpu/approx", speedup=4.0, accuracy={"recall@10": 0.9},
                  samples_s=[2.5e-4] * 3, median_s=2.5e-4, baseline_samples_s=[1e-3] * 3,
                  cost_usd_per_million_units=1.0, build_s=0.5, artifact_bytes=2048,
                  artifact_shared=size == 20, flags=[FEWER] if size == 10 else [], **perf),
            a_row("search", size, "cpu/broken", status="failed", reason="wrong result",
                  **RECALL),
            a_row("search", size, "cpu/null", extra={"overhead_only": True}, median_s=2e-6,
                  **RECALL),
        ]
    return rows


def moe_rows() -> list[ResultRecord]:
    """An MoE-like family whose rows carry a second ratio, vs the per-expert loop."""
    scope = {"timed_scope": "expert FFNs + combine; router excluded",
             "rank_baseline_system": "cpu/loop", "accuracy_metric": "rel_error",
             "accuracy_direction": "lower", "accuracy_range": [0.0, None],
             "throughput_units_per_s": 1e4}
    return [a_row("moe", 8, system, speedup=dense, speedup_vs_rank_baseline=loop,
                  accuracy={"rel_error": 1e-7}, **scope)
            for system, dense, loop in (("cpu/dense", 1.0, 0.2), ("cpu/loop", 5.0, 1.0),
                                        ("cpu/grouped", 10.0, 2.0))]


def write_run(out: Path, records: list[ResultRecord]) -> Path:
    writer = RecordWriter(out / "records.jsonl")
    for record in records:
        writer.append(record)
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = write_run(tmp_path_factory.mktemp("run"), search_rows() + moe_rows())
    write_reports(out)
    return out


def test_reports_and_plots_are_written(run_dir):
    for name in ("results.csv", "leaderboard.md", "speedup.md", "cap.md", "search_cap_radar.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir / "search_cap_radar.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_leaderboard_ranks_working_systems_and_lists_failing_ones_apart(run_dir):
    board = leaderboard(load_run(run_dir))
    search = board[board.family == "search"]
    assert list(search.system) == ["cpu/approx", "cpu/dense"]  # no row of nan for broken
    assert list(search["rank"]) == [1, 2] and set(search.common) == {2}
    text = (run_dir / "leaderboard.md").read_text()
    assert ("## search on cpu: speedup over dense (cpu/dense, same device); geomean over "
            "the 2 instance(s) every ranked system ran") in text
    assert "- `cpu/broken` failed on 2 instance(s): wrong result" in text
    assert "Harness overhead (null system, not ranked)" in text


def test_moe_is_ranked_by_its_rank_baseline_and_says_so(run_dir):
    board = leaderboard(load_run(run_dir))
    moe = board[board.family == "moe"].set_index("system")
    assert list(moe.index) == ["cpu/grouped", "cpu/loop", "cpu/dense"]
    assert moe.loc["cpu/grouped", "geomean"] == pytest.approx(2.0)
    assert moe.loc["cpu/grouped", "vs_dense"] == pytest.approx(10.0)
    assert set(moe.baseline) == {"cpu/loop"}
    text = (run_dir / "leaderboard.md").read_text()
    assert "## moe on cpu: speedup over the rank baseline (cpu/loop), not dense" in text


def ranked_rows() -> list[ResultRecord]:
    """Three instances; ``cpu/partial`` runs only two, one row of ``cpu/fast`` is INVALID, a
    simulated array is faster than everything, a lossy kernel drops tokens."""
    rows = []
    for size in (1, 2, 3):
        rows.append(a_row("rank", size, "cpu/dense", speedup=1.0, accuracy={"err": 1e-7},
                          accuracy_metric="err", accuracy_direction="lower"))
        invalid = dict(verdict="INVALID", noise={"spread": 0.9}) if size == 3 else {}
        rows.append(a_row("rank", size, "cpu/fast", speedup=3.0 if size < 3 else 100.0,
                          accuracy={"err": 1e-7}, accuracy_metric="err",
                          accuracy_direction="lower", **invalid))
        rows.append(a_row("rank", size, "cpu/lossy", speedup=2.0, accuracy={"err": 0.8},
                          accuracy_metric="err", accuracy_direction="lower",
                          semantics={"drops_tokens": True}))
        rows.append(a_row("rank", size, "sim:x/nm", device="sim:x", speedup=50.0,
                          baseline_system="sim:x/dense", accuracy={"err": 1e-8},
                          accuracy_metric="err", accuracy_direction="lower"))
        if size < 3:
            rows.append(a_row("rank", size, "cpu/partial", speedup=1.5, accuracy={"err": 1e-7},
                              accuracy_metric="err", accuracy_direction="lower"))
        else:
            rows.append(a_row("rank", size, "cpu/partial", status="skipped",
                              reason="needs an even size"))
    return rows


def test_rankings_are_per_device_kind_over_common_instances_without_invalid_rows(tmp_path):
    from suite.ranking import rankings
    frame = load_run(write_run(tmp_path, ranked_rows()))
    cpu, sim = rankings(frame)
    assert (cpu.device_kind, sim.device_kind) == ("cpu", "sim")
    assert list(sim.board.system) == ["sim:x/nm"]          # never beside the CPU kernels
    board = cpu.board.set_index("system")
    assert cpu.common == 2                                  # fast's size 3 is INVALID
    assert board.loc["cpu/fast", "geomean"] == pytest.approx(3.0)  # 100x left out
    assert board.loc["cpu/fast", "n"] == 2 and board.loc["cpu/fast", "invalid"] == 1
    assert cpu.left_out == 1
    assert "drops tokens" in board.loc["cpu/lossy", "note"]
    assert board.loc["cpu/dense", "note"] == ""
    with_invalid = rankings(frame, include_invalid=True)[0].board.set_index("system")
    assert with_invalid.loc["cpu/fast", "own_geomean"] > 3.0


def test_the_leaderboard_says_what_a_lossy_system_gives_up(tmp_path):
    out = write_run(tmp_path, ranked_rows())
    write_reports(out)
    text = (out / "leaderboard.md").read_text()
    assert "Lossy systems (ranked by speed, not by what they compute):" in text
    assert ("- `cpu/lossy`: drops tokens: median err 0.8 vs 1e-07 for the dense baseline; "
            "ranked by speed only") in text
    assert "1 INVALID row(s) left out of this ranking" in text


def test_speedup_cells_carry_intervals_and_invalid_marks(tmp_path):
    rows = [a_row("iv", 1, "cpu/dense", speedup=1.0, baseline_samples_s=[1e-3] * 3),
            a_row("iv", 1, "cpu/k", speedup=2.0, speedup_ci=[1.8, 2.3], verdict="INVALID",
                  verdict_reasons=["spread: IQR of its samples is 40% of the median (> 25%)"],
                  noise={"spread": 0.4}, samples_s=[5e-4, 4e-4, 7e-4],
                  baseline_samples_s=[1e-3] * 3)]
    out = write_run(tmp_path, rows)
    write_reports(out)
    text = (out / "speedup.md").read_text()
    assert "2x [1.8, 2.3] INVALID" in text
    assert "- `cpu/k` INVALID on 1 instance(s): spread" in text


def test_roofline_is_retaken_against_the_runs_best_peak(tmp_path):
    """A peak read in a slow moment made the dense row look 2.3 x faster than possible."""
    row = a_row("peak", 1, "cpu/dense", speedup=1.0, median_s=1e-3, flops_executed=2e8,
                flops_useful=2e8, bytes_format=1e3, roofline_fraction=2.3,
                peaks={"flops_per_s": 87e9, "bytes_per_s": 1e10})
    out = write_run(tmp_path, [row])
    (out / "env.json").write_text(json.dumps({"peak_readings": {"cpu": [
        {"flops_per_s": 87e9, "bytes_per_s": 1e10},
        {"flops_per_s": 250e9, "bytes_per_s": 2e10}]}}))
    frame = load_run(out)
    assert frame.roofline_fraction.iloc[0] == pytest.approx(0.8)
    assert frame.verdict.iloc[0] == "VALID"
    (out / "env.json").unlink()
    again = load_run(out)
    assert again.verdict.iloc[0] == "INVALID"
    assert "roofline fraction 2.30 > 1" in again.verdict_reasons.iloc[0][0]


def test_accuracy_headers_state_the_recorded_direction(run_dir):
    board = (run_dir / "leaderboard.md").read_text()
    cap = (run_dir / "cap.md").read_text()
    assert "median recall@10 (higher is better, 0-1)" in board
    assert "accuracy: recall@10 (higher is better, 0-1)" in cap
    assert "accuracy: rel_error (lower is better)" in cap
    search_part = cap.split("## search")[1]
    assert "lower is better" not in search_part


def test_flagged_rows_are_marked_and_their_flags_listed(run_dir):
    cap = (run_dir / "cap.md").read_text()
    assert "| cpu/approx !" in cap and f"- `cpu/approx !` on 1 instance(s): {FEWER}" in cap
    assert "4x [4, 4]!" in (run_dir / "speedup.md").read_text()
    board = leaderboard(load_run(run_dir)).set_index("system")
    assert board.loc["cpu/approx", "flagged"] == 1
    csv = pd.read_csv(run_dir / "results.csv")
    assert [FEWER] in [json.loads(cell) for cell in csv["flags"].dropna()]


def test_results_csv_holds_json_not_python_reprs(run_dir):
    csv = pd.read_csv(run_dir / "results.csv")
    for column in ("params", "options", "accuracy", "extra", "flags", "accuracy_range",
                   "accuracy_metrics", "noise", "speedup_ci"):
        for cell in csv[column].dropna():
            json.loads(cell)  # a Python repr ({'a': 1}, None, nan) would not parse
    assert "'" not in "".join(csv["params"].dropna())


def test_cap_shows_the_timed_scope_both_ratios_and_build_columns(run_dir):
    cap = (run_dir / "cap.md").read_text()
    moe, search = cap.split("## moe")[1].split("## search")
    assert "Timed call: expert FFNs + combine; router excluded." in moe
    assert "speedup vs dense" in moe and "speedup vs cpu/loop" in moe
    assert "build s" not in moe and "artifact bytes" not in moe
    assert "build s" in search and "2.05e+03 (shared)" in search
    assert "Timed call: not recorded." in search


def test_radar_scores_put_the_best_system_at_one_on_each_axis():
    frame = pd.DataFrame({
        "system": ["a", "b"], "status": ["ok", "ok"],
        "throughput_units_per_s": [100.0, 50.0], "cost_usd_per_million_units": [2.0, 1.0],
        "accuracy_value": [0.0, 0.25], "s_mfu": [0.1, 0.2], "s_mbu": [0.4, 0.1]})
    scores = radar_scores(radar_summary(frame), MetricInfo("rel_error", "lower", 0.0, None))
    assert scores.loc["a"].tolist() == pytest.approx([1.0, 0.5, 1.0, 0.5, 1.0])
    assert scores.loc["b"].tolist() == pytest.approx([0.5, 1.0, 0.75, 1.0, 0.25])


@pytest.mark.parametrize("metric, expected", [
    (MetricInfo("recall@10", "higher", 0.0, 1.0), [0.9, 0.5]),   # higher value wins
    (MetricInfo("rel_error", "lower", 0.0, 1.0), [0.1, 0.5]),    # lower value wins
    (MetricInfo("ndcg", "higher"), [1.0, 0.5 / 0.9]),              # unbounded: vs the best
    (MetricInfo("mystery"), [0.0, 0.0]),                           # no direction: not scored
])
def test_radar_accuracy_follows_the_recorded_direction(metric, expected):
    frame = pd.DataFrame({
        "system": ["a", "b"], "status": ["ok", "ok"], "throughput_units_per_s": [1.0, 1.0],
        "cost_usd_per_million_units": [1.0, 1.0], "accuracy_value": [0.9, 0.5],
        "s_mfu": [0.1, 0.1], "s_mbu": [0.1, 0.1]})
    scores = radar_scores(radar_summary(frame), metric)
    assert scores.accuracy.tolist() == pytest.approx(expected)


def test_reports_rebuild_from_a_v1_run_directory(tmp_path):
    """``run-suite report`` on a copy of a committed run that SparseCAP wrote with schema 1."""
    source = REPO / "results" / "quick-cpu-2026-11-25"
    for name in ("records.jsonl", "env.json"):
        shutil.copy(source / name, tmp_path / name)
    written = {p.name for p in write_reports(tmp_path)}
    assert {"results.csv", "leaderboard.md", "cap.md", "spmm_cap_radar.png"} <= written
    frame = load_run(tmp_path)
    assert frame.gflop_per_s_useful.notna().any() and frame.bytes_format.notna().any()
    cap = (tmp_path / "cap.md").read_text()
    assert "accuracy: rel_error (lower is better)" in cap and "higher is better" not in cap
