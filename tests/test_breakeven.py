"""Break-even density from a density sweep: a known crossing is recovered inside its
interval, sweeps that never cross say which side they lie on, a lone density is no sweep,
and ``run-suite report`` writes ``breakeven.md`` (and the band on the plot) from records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suite.breakeven import FILE, breakeven_markdown, breakevens, crossing
from suite.records import RecordWriter, ResultRecord
from suite.report import load_run, write_reports

DENSITIES = (0.05, 0.1, 0.2, 0.5)
FLOPS = 2.0e9


def sweep_rows(speedup_at, system: str = "cpu/ours", densities=DENSITIES, rounds: int = 15,
               noise: float = 0.02, seed: int = 0,
               label: str = "unstructured({})") -> list[ResultRecord]:
    """SpMM rows on one shape: the dense baseline and ``system`` at each density, whose
    raw samples (paired by round, as the harness takes them) give ``speedup_at(density)``
    times a little noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for density in densities:
        pattern = label.format(density)
        base = list(1e-3 * (1 + noise * rng.standard_normal(rounds)))
        mine = list(np.array(base) / speedup_at(density)
                    * (1 + noise * rng.standard_normal(rounds)))
        common = dict(instance_id=f"spmm/pattern={pattern}", params={
            "shape": [256, 256], "n": 64, "pattern": pattern}, flops_dense=FLOPS,
            flops_useful=FLOPS * density)
        rows += [spmm_row("cpu/dense", base, base, **common),
                 spmm_row(system, mine, base, **common)]
    return rows


def spmm_row(system: str, samples: list[float], baseline: list[float], **fields) -> ResultRecord:
    median, base_median = float(np.median(samples)), float(np.median(baseline))
    kernel = system.split("/")[1]
    return ResultRecord(
        run_id="r", suite="s", family="spmm", instance_label=fields["instance_id"],
        system=system, device="cpu", kernel=kernel, options={}, is_baseline=kernel == "dense",
        status="ok", samples_s=samples, median_s=median, baseline_system="cpu/dense",
        baseline_samples_s=baseline, baseline_median_s=base_median,
        speedup=base_median / median, unit_name="op", units=1.0, **fields)


def write_run(out, records):
    writer = RecordWriter(out / "records.jsonl")
    for record in records:
        writer.append(record)
    return out


def test_crossing_interpolates_log_speedup_in_log_density():
    # speedup = 0.3 / density is a straight line in log-log: the crossing is exact
    densities = [0.1, 0.2, 0.5]
    assert crossing(densities, [0.3 / d for d in densities])[0] == pytest.approx(0.3)
    assert crossing(densities, [3.0, 2.0, 1.5])[0] == math.inf
    assert crossing(densities, [0.9, 0.5, 0.2])[0] == 0.0
    # the first fall to 1.0 going up counts, not a later recovery
    assert crossing(densities, [2.0, 1.0, 1.2])[0] == pytest.approx(0.2)


def test_known_crossing_is_inside_its_interval(tmp_path):
    frame = load_run(write_run(tmp_path, sweep_rows(lambda d: 0.3 / d)))
    (found,) = breakevens(frame)
    assert (found.system, found.device, found.pattern_kind) == ("cpu/ours", "cpu",
                                                                "unstructured")
    assert found.shape == {"n": 64, "shape": [256, 256]}
    assert found.densities == list(DENSITIES)
    assert found.estimate == pytest.approx(0.3, rel=0.05)
    low, high = found.interval
    assert low < 0.3 < high and high / low < 1.2


def test_always_winning_and_never_winning_sweeps_say_so(tmp_path):
    rows = (sweep_rows(lambda d: 0.9 / d, system="cpu/fast")
            + sweep_rows(lambda d: 0.01 / d, system="cpu/slow")[1::2])
    found = {b.system: b for b in breakevens(load_run(write_run(tmp_path, rows)))}
    fast, slow = found["cpu/fast"], found["cpu/slow"]
    assert fast.estimate == math.inf and fast.interval == (math.inf, math.inf)
    assert fast.estimate_text() == "beats dense at every swept density ≤ 0.5"
    assert fast.interval_text() == "[> 0.5, > 0.5]"
    assert slow.estimate == 0.0
    assert slow.estimate_text() == "never beats dense (swept 0.05–0.5)"
    assert slow.interval_text() == "[< 0.05, < 0.05]"


def test_fewer_than_two_densities_is_no_sweep(tmp_path):
    frame = load_run(write_run(tmp_path, sweep_rows(lambda d: 0.3 / d, densities=(0.1,))))
    assert breakevens(frame) == []
    write_reports(tmp_path)
    assert not (tmp_path / FILE).exists()


def test_equal_densities_merge_into_one_point(tmp_path):
    rows = (sweep_rows(lambda d: 0.3 / d, densities=(0.1, 0.5))
            + sweep_rows(lambda d: 0.3 / d, densities=(0.1,), label="unstructured({}0)"))
    (found,) = breakevens(load_run(write_run(tmp_path, rows)))
    assert found.densities == [0.1, 0.5]
    assert found.points[0].patterns == ("unstructured(0.1)", "unstructured(0.10)")


def test_report_writes_the_table_and_the_plot(tmp_path):
    rows = sweep_rows(lambda d: 0.3 / d) + sweep_rows(lambda d: 0.9 / d, system="cpu/fast")[1::2]
    written = write_reports(write_run(tmp_path, rows))
    assert tmp_path / FILE in written
    assert tmp_path / "spmm_speedup_vs_density.png" in written
    text = (tmp_path / FILE).read_text()
    assert text.startswith("# Break-even density")
    assert "Every row: n=64, shape=256x256." in text
    table = {cells[0]: cells for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
        if line.startswith("| cpu/"))}
    ours, fast = table["cpu/ours"], table["cpu/fast"]
    assert ours[1:4] == ["cpu", "-", "unstructured"]
    assert float(ours[4]) == pytest.approx(0.3, rel=0.05)
    low, high = (float(v) for v in ours[5].strip("[]").split(","))
    assert low < float(ours[4]) < high
    assert ours[6].startswith("4: 0.05→")
    assert fast[4:6] == ["beats dense at every swept density ≤ 0.5", "[> 0.5, > 0.5]"]


def test_invalid_rows_are_left_out_unless_nothing_else_is_left(tmp_path):
    busy = {"other_cpu": 0.9}  # another process took 90 % of the CPU: INVALID
    rows = sweep_rows(lambda d: 0.3 / d)
    for row in rows[-2:]:  # the 0.5 point is INVALID: the sweep ends at 0.2, never crossing
        row.noise = busy
    noisy = sweep_rows(lambda d: 0.3 / d, system="cpu/noisy")[1::2]
    for row in noisy:
        row.noise = busy
    found = {b.system: b for b in breakevens(load_run(write_run(tmp_path, rows + noisy)))}
    assert found["cpu/ours"].densities == [0.05, 0.1, 0.2] and not found["cpu/ours"].invalid
    assert found["cpu/ours"].estimate == math.inf
    assert found["cpu/noisy"].invalid
    assert found["cpu/noisy"].estimate == pytest.approx(0.3, rel=0.05)
    text = breakeven_markdown(list(found.values()))
    (line,) = [line for line in text.splitlines() if line.startswith("| cpu/noisy")]
    assert "INVALID" in line and "not to be quoted" in text
    assert "INVALID" not in next(line for line in text.splitlines()
                                 if line.startswith("| cpu/ours"))


def test_markdown_without_sweeps_says_so():
    assert "(no density sweep)" in breakeven_markdown([])
