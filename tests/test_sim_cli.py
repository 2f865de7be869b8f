"""``run-suite simulate`` as a user types it (through the standalone entry point)."""

from __future__ import annotations

import json

from simulators.cli import main


def test_help_teaches_with_examples(capsys):
    try:
        main(["simulate", "--help"])
    except SystemExit as done:
        assert done.code == 0
    out = capsys.readouterr().out
    assert "run-suite simulate --hw sparse-tc-32x32 --workload GEMM:128,3072,768 --nm 2:4" in out
    assert "--sweep rows=16,32,64 nm=2:4,1:4,dense hw_sparsity=dense,2:4,flexible-8" in out


def test_single_gemm(capsys, tmp_path):
    assert main(["simulate", "--hw", "sparse-tc-32x32", "--workload", "GEMM:128,256,256",
                 "--nm", "2:4", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "speedup_vs_dense:" in out and "total_cycles:" in out
    saved = json.loads((tmp_path / "simulate.json").read_text())
    assert saved["layers"][0]["tile_patterns"] == {"2:4": 8}


def test_trace_csv(tmp_path):
    trace = tmp_path / "trace.csv"
    assert main(["simulate", "--hw", "dense-32x32", "--workload", "GEMM:16,16,16",
                 "--trace", str(trace)]) == 0
    assert trace.read_text().splitlines()[0] == "cycle,busy_pes"


def test_sweep_prints_the_table(capsys, tmp_path):
    assert main(["simulate", "--hw", "dense-32x32", "--workload", "CONV:16,16,3,3,8,16,1",
                 "--sweep", "rows=8,16", "nm=2:4,dense", "--scheduler", "synchronous",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| rows=8 nm=2:4 | 2:4 | dense |" in out and "4 configs in" in out
    assert "Pareto front" in out


def test_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["simulate", "--hw", "dense-32x32", "--workload", "GEMM:1,2"]) == 2
    assert capsys.readouterr().out == ("error: --workload 'GEMM:1,2': allowed: GEMM:M,N,K or "
                                       "CONV:H,W,FH,FW,C,F,STRIDE with integers >= 1\n")
