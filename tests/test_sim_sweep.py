"""What-if sweeps: expansion over a base config, streamed JSON lines, tables and plots."""

from __future__ import annotations

import json

import pytest

from simulators.hw_config import load_hw_config
from simulators.mapping import Gemm
from simulators.sweep import expand_sweep, parse_sweep_args, run_sweep
from simulators.topology import Layer
from suite.errors import UserError

LAYERS = [Layer(Gemm("ffn", 64, 256, 128)), Layer(Gemm("scores", 64, 64, 32), nm=(1, 1))]


def test_expand_is_the_cross_product_over_the_base():
    points = expand_sweep({"rows": [16, 32, 64], "nm": ["2:4", "1:4", "dense"]},
                          load_hw_config("dense-32x32"))
    assert len(points) == 9
    assert points[0].label == "rows=16 nm=2:4" and points[0].cfg.rows == 16
    assert points[0].cfg.sparsity.patterns == ((2, 4),)  # dense base gains 2:4 support
    assert points[2].nm is None and points[2].cfg.sparsity.mode == "dense"


def test_cli_style_spec_and_array_shorthand():
    spec = parse_sweep_args(["array=16x8,64", "dataflow=os,ws"])
    points = expand_sweep(spec, load_hw_config("dense-32x32"))
    assert [(p.cfg.rows, p.cfg.cols, p.cfg.dataflow) for p in points] == [
        (16, 8, "os"), (16, 8, "ws"), (64, 64, "os"), (64, 64, "ws")]


@pytest.mark.parametrize("items, message", [
    (["row=16"], "allowed keys: array, nm, rows"),
    (["rows"], "expected KEY=V1,V2"),
])
def test_bad_sweep_args(items, message):
    with pytest.raises(UserError, match=message):
        parse_sweep_args(items)


def test_bad_sweep_value_names_the_field():
    with pytest.raises(UserError, match="rows: got 0"):
        expand_sweep({"rows": [0]}, load_hw_config("dense-32x32"))


def test_synchronous_sweep_writes_every_output(tmp_path):
    points = expand_sweep({"rows": [16, 32], "nm": ["2:4", "dense"]}, load_hw_config("dense-32x32"))
    rows = run_sweep(points, LAYERS, tmp_path, scheduler="synchronous")
    lines = [json.loads(line) for line in (tmp_path / "sweep.jsonl").read_text().splitlines()]
    assert len(lines) == len(rows) == 4
    assert {line["config"] for line in lines} == {p.label for p in points}
    dense = [line for line in lines if line["nm"] == "dense"]
    assert all(line["speedup_vs_dense"] == 1.0 for line in dense)
    table = (tmp_path / "sweep.md").read_text()
    assert "| config | cycles | utilization | energy (uJ) | speedup over dense |" in table
    assert (tmp_path / "sweep_rows.png").stat().st_size > 1000
    assert (tmp_path / "sweep.csv").read_text().startswith("config,rows,nm,")


def test_dask_local_cluster_sweep(tmp_path):
    pytest.importorskip("dask.distributed")
    points = expand_sweep({"cols": [8, 16, 32]}, load_hw_config("sparse-tc-32x32"))
    rows = run_sweep(points, LAYERS, tmp_path, workers=1)
    assert sorted(row["config"] for row in rows) == ["cols=16", "cols=32", "cols=8"]
    assert len((tmp_path / "sweep.jsonl").read_text().splitlines()) == 3
