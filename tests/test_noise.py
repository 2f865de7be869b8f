"""How noisy a run was: other processes' CPU share, per-row verdicts with reasons, the run's
verdict in env.json, peaks re-measured during the run, and threads used per system."""

from __future__ import annotations

import json
import time

import pytest

from suite import noise
from suite.config import parse_suite
from suite.plan import make_plan
from suite.records import read_records
from suite.runner import RECORDS_FILE, run_plan
from tests.conftest import TOY_SUITE
from tests.test_report import a_row


def test_other_cpu_is_the_share_other_processes_used():
    first = noise.Probe(wall_s=10.0, busy_s=100.0, own_s=5.0, load_1m=1.0, cpu_mhz=None)
    second = noise.Probe(wall_s=12.0, busy_s=103.0, own_s=6.0, load_1m=2.0, cpu_mhz=None)
    assert noise.other_cpu(first, second, cores=2) == pytest.approx(0.5)  # 2 of 4 core-s
    assert noise.other_cpu(first, first, cores=2) is None


def test_a_probe_reads_this_machine():
    probe = noise.Probe.now()
    assert probe.wall_s > 0 and (probe.busy_s is None or probe.busy_s > 0)
    start = time.process_time()
    while time.process_time() - start < 0.2:
        pass
    later = noise.Probe.now()
    if probe.own_s is not None:
        assert later.own_s - probe.own_s >= 0.1  # our own spinning counts as ours


@pytest.mark.parametrize("fields, reason", [
    ({"noise": {"spread": 0.4}}, "spread: IQR of its samples is 40% of the median"),
    ({"noise": {"baseline_spread": 0.5}}, "spread: IQR of its baseline's is 50%"),
    ({"noise": {"other_cpu": 0.8}}, "noisy: other processes used 80% of the CPU"),
    ({"roofline_fraction": 2.31}, "roofline fraction 2.31 > 1"),
])
def test_a_row_is_invalid_for_each_reason(fields, reason):
    verdict, reasons = noise.judge(a_row("t", 1, "cpu/k", **fields))
    assert verdict == "INVALID" and reasons[0].startswith(reason)


def test_a_simulated_rows_time_is_not_judged_by_the_machines_noise():
    row = a_row("t", 1, "sim:x/nm", noise={"modelled": True, "other_cpu": 0.9})
    assert noise.judge(row) == ("VALID", [])


def test_a_quiet_row_is_valid_and_an_untimed_one_not_judged():
    assert noise.judge(a_row("t", 1, "cpu/k", noise={"spread": 0.02, "other_cpu": 0.01},
                             roofline_fraction=0.8)) == ("VALID", [])
    assert noise.judge(a_row("t", 1, "cpu/k", status="failed", samples_s=[])) == ("", [])


def test_the_run_verdict_names_its_reasons():
    peaks = {"cpu": [{"flops_per_s": 51e9}, {"flops_per_s": 148e9}]}
    verdict = noise.run_verdict({"other_cpu_median": 0.6}, peaks, [0.3], ["INVALID", "VALID"])
    assert verdict["verdict"] == "noisy" and len(verdict["reasons"]) == 4
    assert "ranged 51 to 148 GFLOP/s" in verdict["reasons"][1]
    quiet = noise.run_verdict({"other_cpu_median": 0.01}, {"cpu": [{"flops_per_s": 1e11}]},
                              [0.02], ["VALID"])
    assert quiet == {"verdict": "quiet", "reasons": []}


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("noise")
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    run_plan(make_plan(cfg), cfg, out)
    return {(r.instance_label, r.kernel): r for r in read_records(out / RECORDS_FILE)}, out


def test_records_carry_intervals_noise_verdicts_and_threads(toy_run):
    rows, _ = toy_run
    good = rows[("toy size=8", "good")]
    assert len(good.speedup_ci) == 2 and good.ci_level == 0.95
    assert good.speedup_ci[0] <= good.speedup_ci[1]
    assert {"spread", "baseline_spread", "other_cpu", "load_1m"} <= set(good.noise)
    assert good.verdict in ("VALID", "INVALID") and good.threads_used > 0
    assert good.peaks["flops_per_s"] > 1e9
    assert rows[("toy size=8", "wrong")].verdict == ""  # failed: not judged


def test_env_json_holds_the_noise_section_and_every_peak_reading(toy_run):
    _, out = toy_run
    env = json.loads((out / "env.json").read_text())
    section = env["noise"]
    assert section["verdict"] in ("quiet", "noisy") and isinstance(section["reasons"], list)
    assert {"before", "after", "other_cpu_median"} <= set(section)
    assert section["before"]["load_1m"] is not None
    assert env["peak_readings"]["cpu"] and env["segments"][-1]["noise"] == section
