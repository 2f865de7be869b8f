"""What-if sweeps: expansion over a base config, streamed JSON lines, tables and plots."""

from __future__ import annotations

import json

import pytest

from simulators.hw_config import load_hw_config
from simulators.mapping import Gemm
from simulators.sweep import expand_sweep, parse_sweep_args, run_sweep, simulate_point
from simulators.topology import Layer
from suite.errors import UserError

LAYERS = [Layer(Gemm("ffn", 64, 256, 128)), Layer(Gemm("scores", 64, 64, 32), nm=(1, 1))]


def test_expand_is_the_cross_product_over_the_base():
    points = expand_sweep({"rows": [16, 32, 64], "nm": ["2:4", "1:4", "dense"]},
                          load_hw_config("dense-32x32"))
    assert len(points) == 9
    assert points[0].label == "rows=16 nm=2:4" and points[0].cfg.rows == 16
    assert points[0].nm == (2, 4) and points[2].nm is None
    assert points[0].labels == {"weights_nm": "2:4", "hw_sparsity": "dense"}


def test_swept_weights_never_change_the_hardware():
    # A dense array stays dense when the weights are 2:4: no speedup from a pattern it
    # cannot skip (the old sweep quietly gave it native 2:4 support).
    points = expand_sweep({"nm": ["2:4", "1:8"]}, load_hw_config("dense-32x32"))
    assert all(p.cfg.sparsity.mode == "dense" for p in points)
    rows = [simulate_point(p, LAYERS) for p in points]
    assert [r["speedup_vs_dense"] for r in rows] == [1.0, 1.0]
    # 1:8 weights on 2:4-only hardware run as 2:4 (a covering pattern), not as 1:8.
    tc = expand_sweep({"nm": ["2:4", "1:8"]}, load_hw_config("sparse-tc-32x32"))
    speedups = [simulate_point(p, LAYERS)["speedup_vs_dense"] for p in tc]
    assert speedups[0] == pytest.approx(speedups[1])


def test_hardware_support_is_its_own_axis():
    points = expand_sweep({"nm": ["1:8"], "hw_sparsity": ["dense", "2:4", "2:4+1:8",
                                                          "flexible-8"]},
                          load_hw_config("dense-32x32"))
    assert [p.labels["hw_sparsity"] for p in points] == ["dense", "2:4", "2:4+1:8", "flexible-8"]
    assert points[2].cfg.metadata_bits == 3  # grown to index a group of 8
    rows = [simulate_point(p, LAYERS) for p in points]
    speedups = [r["speedup_vs_dense"] for r in rows]
    assert speedups[0] == 1.0 and speedups[1] < speedups[2] == pytest.approx(speedups[3])
    assert rows[0]["area_total_mm2"] < rows[1]["area_total_mm2"] < rows[3]["area_total_mm2"]


def test_the_weights_pattern_of_an_unswept_run_applies_to_every_point():
    points = expand_sweep({"rows": [16, 32]}, load_hw_config("sparse-tc-32x32"), nm=(2, 4))
    assert all(p.nm == (2, 4) and p.labels["weights_nm"] == "2:4" for p in points)


def test_cli_style_spec_and_array_shorthand():
    spec = parse_sweep_args(["array=16x8,64", "dataflow=os,ws"])
    points = expand_sweep(spec, load_hw_config("dense-32x32"))
    assert [(p.cfg.rows, p.cfg.cols, p.cfg.dataflow) for p in points] == [
        (16, 8, "os"), (16, 8, "ws"), (64, 64, "os"), (64, 64, "ws")]


@pytest.mark.parametrize("items, message", [
    (["row=16"], "allowed keys: array, nm, hw_sparsity, rows"),
    (["rows"], "expected KEY=V1,V2"),
])
def test_bad_sweep_args(items, message):
    with pytest.raises(UserError, match=message):
        parse_sweep_args(items)


def test_bad_sweep_value_names_the_field():
    with pytest.raises(UserError, match="rows: got 0"):
        expand_sweep({"rows": [0]}, load_hw_config("dense-32x32"))


def test_synchronous_sweep_writes_every_output(tmp_path):
    points = expand_sweep({"rows": [16, 32], "nm": ["2:4", "dense"]},
                          load_hw_config("sparse-tc-32x32"))
    rows = run_sweep(points, LAYERS, tmp_path, scheduler="synchronous", title="two layers")
    lines = [json.loads(line) for line in (tmp_path / "sweep.jsonl").read_text().splitlines()]
    assert len(lines) == len(rows) == 4
    assert {line["config"] for line in lines} == {p.label for p in points}
    dense = [line for line in lines if line["nm"] == "dense"]
    assert all(line["speedup_vs_dense"] == 1.0 for line in dense)
    assert all(line["hw_sparsity"] == "2:4" for line in lines)
    table = (tmp_path / "sweep.md").read_text()
    assert "| config | weights | hw sparsity | cycles | utilization | energy (uJ) |" in table
    for name in ("sweep_rows.png", "sweep_nm.png", "heatmap_rows_x_nm.png", "pareto.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert (tmp_path / "sweep.csv").read_text().startswith("config,rows,nm,weights_nm,")
    assert "Pareto front" in (tmp_path / "pareto.md").read_text()


def test_dask_local_cluster_sweep(tmp_path):
    pytest.importorskip("dask.distributed")
    points = expand_sweep({"cols": [8, 16, 32]}, load_hw_config("sparse-tc-32x32"))
    rows = run_sweep(points, LAYERS, tmp_path, workers=1)
    assert sorted(row["config"] for row in rows) == ["cols=16", "cols=32", "cols=8"]
    assert len((tmp_path / "sweep.jsonl").read_text().splitlines()) == 3
