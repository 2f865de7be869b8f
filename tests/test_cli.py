"""run-suite as a user meets it: help, listing, one-line errors with exit code 2, reports."""

from __future__ import annotations

import os
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from suite.cli import main

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARSECAP_PLUGINS": "tests.toy_family"}
    return subprocess.run([sys.executable, "-m", "suite.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def assert_lines(text: str, patterns: list[str]) -> None:
    """Like pytest's fnmatch_lines: '*' is a wildcard, brackets are literal."""
    lines = text.splitlines()
    for pattern in patterns:
        glob = pattern.replace("[", "[[]")
        assert any(fnmatch(line, glob) for line in lines), f"no line matches {pattern!r}"


def test_help_teaches_the_options_and_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--suite", "--only", "--systems", "--out", "--resume", "--list",
                 "run-suite report runs/std", "run-suite simulate"):
        assert text in out


def test_list_shows_families_kernels_and_why_a_device_is_missing():
    result = run_cli("--list")
    assert result.returncode == 0
    assert_lines(result.stdout, ["family spmm*", "family toy*", "*cuda*unavailable*"])


@pytest.mark.parametrize("args, message", [
    (["--suite", "nope"], "run-suite: error: --suite: unknown suite 'nope'*"),
    (["--suite", "missing.yaml"], "run-suite: error: --suite: no such file 'missing.yaml'"),
    (["--only", "attention"], "run-suite: error: --only: unknown family 'attention'*"),
    (["report", "/nonexistent-run"], "run-suite: error: *no records.jsonl here*"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_lines(result.stderr, [message])


def test_bad_yaml_points_at_the_line(write_suite):
    path = write_suite("name: x\nworkloads:\n  - family: toy\n    grid: {size: [1, two]}\n"
                       "systems:\n  - {device: cpu, kernel: good}\n")
    result = run_cli("--suite", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert_lines(result.stderr, ["*suite.yaml:4: workloads[0].grid.size[1]: got 'two'*"])


def test_a_run_prints_tables_and_writes_reports_then_report_rebuilds_them(tmp_path,
                                                                          write_suite):
    suite = write_suite("name: t\ndefaults: {min_repeats: 2, min_time_s: 0}\nworkloads:\n"
                        "  - family: toy\n    grid: {size: [3]}\nsystems:\n"
                        "  - {device: cpu, kernel: good}\n  - {device: cpu, kernel: boom}\n")
    out = tmp_path / "run"
    result = run_cli("--suite", str(suite), "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert_lines(result.stdout, ["*cpu/good*ok*", "*cpu/boom*failed*",
                                 "*cpu/boom failed on 1 instance(s): RuntimeError: kernel exploded*",
                                 "3 rows in * s: 2 ok, 1 failed, 0 skipped*"])
    for name in ("records.jsonl", "env.json", "results.csv", "leaderboard.md", "speedup.md",
                 "cap.md"):
        assert (out / name).exists(), name
    (out / "leaderboard.md").unlink()
    again = run_cli("report", str(out))
    assert again.returncode == 0 and (out / "leaderboard.md").exists()
