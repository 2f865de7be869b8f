"""A run that dies keeps what it finished, and --resume does only the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from suite.config import parse_suite
from suite.plan import make_plan
from suite.records import read_records
from suite.runner import RECORDS_FILE, run_plan
from tests.conftest import TOY_SUITE

REPO = Path(__file__).resolve().parents[1]

SLOW_SUITE = """
name: slow
defaults: {warmup: 0, min_repeats: 2, max_repeats: 2, min_time_s: 0.0}
workloads:
  - family: toy
    grid: {size: [1, 2, 3, 4, 5, 6]}
systems:
  - {device: cpu, kernel: slow, options: {delay_s: 0.1}}
"""


def test_resume_skips_finished_rows_and_keeps_them(tmp_path):
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    path = tmp_path / RECORDS_FILE
    lines = path.read_text().splitlines(keepends=True)
    # As if killed: the last rows never came, and the one being written is torn in half.
    path.write_text("".join(lines[:5]) + lines[5][:40])
    summary = run_plan(make_plan(cfg), cfg, tmp_path, resume=True)
    records = read_records(path)
    assert summary.resumed_rows == 5
    assert len(records) == 12 and len({r.key for r in records}) == 12
    assert {r.run_id for r in records[:5]} != {r.run_id for r in records[5:]}


def test_each_segment_keeps_its_environment_and_peaks_and_its_baseline(tmp_path):
    import json
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    path = tmp_path / RECORDS_FILE
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:7]))  # the second instance's rows are lost
    run_plan(make_plan(cfg), cfg, tmp_path, resume=True)
    env = json.loads((tmp_path / "env.json").read_text())
    assert [s["segment"] for s in env["segments"]] == [0, 1]
    assert all(s["peaks"].get("cpu") for s in env["segments"])
    assert "environment" in env["segments"][1]
    resumed = [r for r in read_records(path) if r.segment == 1]
    assert resumed and all(r.baseline_segment in (None, 1) for r in resumed)
    good = next(r for r in resumed if r.kernel == "good")
    assert good.baseline_samples_s and good.baseline_segment == 1


def test_killed_process_resumes_to_a_complete_run(tmp_path, write_suite):
    suite = write_suite(SLOW_SUITE)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARSECAP_PLUGINS": "tests.toy_family"}
    command = [sys.executable, "-m", "suite.cli", "--suite", str(suite), "--out", str(out),
               "--no-progress"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(read_records(out / RECORDS_FILE)) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = read_records(out / RECORDS_FILE)
    assert 4 <= len(kept) < 12, "the kill must land mid-run"
    done = subprocess.run(command + ["--resume"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    records = read_records(out / RECORDS_FILE)
    assert len({r.key for r in records}) == len(records) == 12
    assert all(r.status == "ok" for r in records)
    assert f"{len(kept)} kept from before" in done.stdout.replace("\n", " ")
