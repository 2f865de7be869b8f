"""The terminal tables as a user reads them: flagged rows marked ``ok!`` with their flags
listed, percentiles labelled by scenario and basis, the accuracy metric's direction."""

from __future__ import annotations

import io
import shutil

import pytest
from rich.console import Console

from suite import console
from tests.test_report import FEWER, REPO, a_row, search_rows, write_run


@pytest.fixture
def screen(monkeypatch):
    """What ``suite.console`` prints, as plain text."""
    out = io.StringIO()
    monkeypatch.setattr(console, "console", Console(file=out, width=220, color_system=None))
    return out


def per_query_rows() -> list:
    return [a_row("lookup", 1, system, scenario="per_query", percentile_basis="per_call",
                  median_s=2e-3, p50_s=2e-3, p90_s=3e-3, p99_s=9e-3, speedup=speedup,
                  accuracy_metric="recall@10", accuracy={"recall@10": 0.95},
                  accuracy_direction="higher", accuracy_range=[0.0, 1.0])
            for system, speedup in (("cpu/dense", 1.0), ("cpu/index", 3.0))]


def test_flagged_rows_are_marked_and_their_flags_listed_under_the_table(tmp_path, screen):
    console.print_tables(write_run(tmp_path, search_rows()))
    text = screen.getvalue()
    assert "ok!" in text
    assert f"  cpu/approx ok! on 1 instance(s): {FEWER}" in text
    assert "  cpu/broken failed on 2 instance(s): wrong result" in text


def test_the_accuracy_header_states_the_direction(tmp_path, screen):
    console.print_tables(write_run(tmp_path, search_rows()))
    text = screen.getvalue()
    assert "recall@10" in text and "(higher is better, 0-1)" in text
    assert "lower is better" not in text


def test_per_query_rows_show_p50_and_p99_per_call(tmp_path, screen):
    console.print_tables(write_run(tmp_path, per_query_rows()))
    text = screen.getvalue()
    assert "p50 ms" in text and "p99 ms" in text and "per call" in text
    assert "9" in text.split("cpu/index")[1].split("\n")[0]  # p99 = 9 ms


def test_batch_rows_show_median_and_p90_per_sample(tmp_path, screen):
    rows = [a_row("batchy", 1, "cpu/dense", calls_per_sample=4, speedup=1.0)]
    console.print_tables(write_run(tmp_path, rows))
    text = screen.getvalue()
    assert "median ms" in text and "p90 ms" in text and "per sample of 4 calls" in text


def test_a_v1_run_directory_prints(tmp_path, screen):
    """``run-suite report`` prints the tables of a run written with schema 1."""
    shutil.copy(REPO / "results" / "quick-cpu-2026-11-25" / "records.jsonl", tmp_path)
    console.print_tables(tmp_path)
    text = screen.getvalue()
    assert "(lower is better)" in text and "median ms" in text and "ok!" not in text
