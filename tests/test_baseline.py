"""Committed baselines: a machine class from env.json, saved per class and suite, found."""

from __future__ import annotations

import json

import pytest

from suite import baseline
from suite.errors import UserError
from tests.test_report import search_rows, write_run

ENV = {"suite": {"name": "ci"}, "logical_cores": 2, "git_commit": "abc",
       "devices": {"cpu": {"cpu_model": "Intel(R) Xeon(R) Processor"},
                   "cuda": {"gpu": "NVIDIA H100 80GB HBM3"}}}


def test_the_machine_class_names_cpu_cores_and_gpu():
    assert baseline.machine_class(ENV) == "intel-xeon-processor-2cpu-nvidia-h100-80gb-hbm3"
    cpu_only = {"logical_cores": 4, "devices": {"cpu": {"cpu_model": "AMD EPYC 7B13 @ 2.4GHz"}}}
    assert baseline.machine_class(cpu_only) == "amd-epyc-7b13-4cpu"


def test_save_then_find_then_list(tmp_path):
    run = write_run(tmp_path / "run", search_rows())
    (run / "env.json").write_text(json.dumps(ENV))
    root = tmp_path / "baselines"
    target = baseline.save(run, root)
    assert target == root / baseline.machine_class(ENV) / "ci"
    assert (target / "records.jsonl").read_text() == (run / "records.jsonl").read_text()
    assert baseline.find(run, root) == target
    assert baseline.listing(root)[0]["suite"] == "ci"


def test_a_noisy_run_is_no_baseline_unless_forced(tmp_path):
    run = write_run(tmp_path / "run", search_rows())
    (run / "env.json").write_text(json.dumps({**ENV, "noise": {
        "verdict": "noisy", "reasons": ["other processes used a median 90% of the CPU"]}}))
    with pytest.raises(UserError, match="verdict is noisy .other processes used a median 90%"):
        baseline.save(run, tmp_path / "b")
    assert baseline.save(run, tmp_path / "b", force=True).is_dir()


def test_a_missing_baseline_says_how_to_make_one(tmp_path):
    run = write_run(tmp_path / "run", search_rows())
    (run / "env.json").write_text(json.dumps(ENV))
    with pytest.raises(UserError, match="run-suite baseline save RUN_DIR"):
        baseline.find(run, tmp_path / "none")
