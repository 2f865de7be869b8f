"""The terminal as a user reads it: a per-family summary that fits 100 columns (ranking,
intervals, threads, the accuracy direction), why rows did not run, flagged rows, the run's
noise verdict; and the full per-row table with percentiles labelled by scenario and basis."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from rich.console import Console

from suite import console
from tests.test_report import FEWER, REPO, a_row, ranked_rows, search_rows, write_run


@pytest.fixture
def screen(monkeypatch):
    """What ``suite.console`` prints, as plain text, on a 100-column terminal."""
    out = io.StringIO()
    monkeypatch.setattr(console, "console", Console(file=out, width=100, color_system=None))
    return out


def per_query_rows() -> list:
    return [a_row("lookup", 1, system, scenario="per_query", percentile_basis="per_call",
                  median_s=2e-3, p50_s=2e-3, p90_s=3e-3, p99_s=9e-3, speedup=speedup,
                  accuracy_metric="recall@10", accuracy={"recall@10": 0.95},
                  accuracy_direction="higher", accuracy_range=[0.0, 1.0])
            for system, speedup in (("cpu/dense", 1.0), ("cpu/index", 3.0))]


def full_table(frame, family: str) -> str:
    out = io.StringIO()
    Console(file=out, width=220, color_system=None).print(
        console.family_table(family, frame[frame.family == family]))
    return out.getvalue()


def test_flagged_rows_are_marked_and_their_flags_listed_under_the_summary(tmp_path, screen):
    console.print_tables(write_run(tmp_path, search_rows()))
    text = screen.getvalue()
    assert f"  cpu/approx ok! on 1 instance(s): {FEWER}" in text
    assert "  cpu/broken failed on 2 instance(s): wrong result" in text
    assert "1 flagged" in text


def test_the_summary_fits_100_columns_and_ranks_per_device_kind(tmp_path, screen):
    console.print_tables(write_run(tmp_path, ranked_rows()))
    text = screen.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "rank on cpu: speedup over cpu/dense; n = 2 instances every system ran" in text
    assert "rank on sim: speedup over sim:x/dense" in text
    cpu_part = text.split("rank on sim")[0]
    assert "sim:x/nm" not in cpu_part and "lossy" in cpu_part and "1 INVALID" in cpu_part
    assert "  cpu/partial skipped on 1 instance(s): needs an even size" in text


def test_the_accuracy_direction_is_in_the_header_and_caption(tmp_path, screen):
    console.print_tables(write_run(tmp_path, search_rows()))
    text = screen.getvalue()
    assert "recall@10↑" in text and "recall@10 ↑: higher is better" in text
    assert "lower is better" not in text


def test_the_run_verdict_is_printed(tmp_path, screen):
    out = write_run(tmp_path, search_rows())
    (out / "env.json").write_text(json.dumps({"noise": {
        "verdict": "noisy", "reasons": ["other processes used a median 72% of the CPU"]}}))
    console.print_tables(out)
    assert "run verdict: noisy (other processes used a median 72% of the CPU)" in \
        screen.getvalue()


def test_reasons_that_differ_only_in_the_value_got_are_one_line(tmp_path, screen):
    rows = [a_row("nm", size, "cpu/dense", speedup=1.0) for size in (1, 2)]
    rows += [a_row("nm", 1, "cpu/nm", status="skipped", reason="needs N:M; got dense"),
             a_row("nm", 2, "cpu/nm", status="skipped", reason="needs N:M; got block(8,0.25)")]
    console.print_tables(write_run(tmp_path, rows))
    assert "  cpu/nm skipped on 2 instance(s): needs N:M (got block(8,0.25), dense)" in \
        screen.getvalue()


def test_per_query_rows_show_p50_and_p99_per_call(tmp_path):
    from suite.report import load_run
    text = full_table(load_run(write_run(tmp_path, per_query_rows())), "lookup")
    assert "p50 ms" in text and "p99 ms" in text and "per call" in text
    assert "9" in text.split("cpu/index")[1].split("\n")[0]  # p99 = 9 ms


def test_batch_rows_show_median_and_p90_per_sample(tmp_path):
    from suite.report import load_run
    rows = [a_row("batchy", 1, "cpu/dense", calls_per_sample=4, speedup=1.0)]
    text = full_table(load_run(write_run(tmp_path, rows)), "batchy")
    assert "median ms" in text and "p90 ms" in text and "per sample of 4 calls" in text


def test_a_v1_run_directory_prints(tmp_path, screen):
    """``run-suite report`` prints the summaries of a run written with schema 1."""
    shutil.copy(REPO / "results" / "quick-cpu-2026-11-25" / "records.jsonl", tmp_path)
    console.print_tables(tmp_path)
    text = screen.getvalue()
    assert "lower is better" in text and "spmm on cpu" in text and "spmm on sim" in text
    assert "[" in text.split("spmm on cpu")[1]  # intervals from the raw samples
    assert max(len(line) for line in text.splitlines()) <= 100
