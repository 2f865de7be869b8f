"""The retrieval report: the cost-growth table over several collection sizes, from suite
records and from the bench's JSON rows."""

from __future__ import annotations

import json

import pandas as pd

from kernels.retrieval import bench
from suite.workloads.retrieval_plot import cost_growth


def rows(docs: int, scale: float) -> list[dict]:
    """Bench-style rows: exact (safe) and one approximate system at two option sets."""
    made = []
    for label, kernel, recall, s in [("exact", "exact", 1.0, 1e-3),
                                     ("ours qc=5", "seismic-numba", 0.90, 1e-5),
                                     ("ours qc=10", "seismic-numba", 0.98, 2e-5)]:
        made.append({"label": label, "system": label, "kernel": kernel, "status": "ok",
                     "reason": "", "accuracy": {"recall@10": recall},
                     "median_s": s * scale, "p99_s": s * scale,
                     "throughput_units_per_s": 1.0 / (s * scale), "build_s": 0.5 * scale,
                     "artifact_bytes": int(1e6 * scale), "docs": docs,
                     "options": {}, "load_average": [1.5, 1.0, 1.0]})
    return made


def test_cost_growth_has_a_column_per_size_and_a_row_per_kernel_and_per_system():
    frame = bench._frame(rows(10_000, 1.0) + rows(100_000, 10.0))
    text = cost_growth(frame)
    assert "| scenario | kernel | 10,000 docs | 100,000 docs |" in text
    # the fastest option set at recall >= 0.95: qc=10, not the faster qc=5 (recall 0.90)
    assert "| per_query | seismic-numba | 0.02 ms, 1 MB, 0.5 s (r 0.980) | 0.2 ms, 10 MB" in text
    assert "| per_query | ours qc=5 | 0.01 ms, 1 MB (r 0.900) | 0.1 ms, 10 MB (r 0.900) |" in text
    assert "| per_query | exact | 1 ms, 1 MB (r 1.000) | 10 ms, 10 MB (r 1.000) |" in text


def test_plays_rows_and_failed_rows_stay_out_of_the_table():
    frame = bench._frame(rows(10_000, 1.0))
    frame.loc[1, "status"] = "failed"
    plays = frame.assign(params=[{"collection": "plays", "docs": 0}] * len(frame))
    text = cost_growth(pd.concat([frame, plays], ignore_index=True))
    assert "ours qc=5" not in text and "| 0 docs" not in text
    assert cost_growth(plays) == ""


def test_the_bench_tabulates_earlier_runs(tmp_path, capsys):
    for docs, scale in [(10_000, 1.0), (100_000, 10.0)]:
        folder = tmp_path / f"r{docs}"
        folder.mkdir()
        (folder / "bench-seismic.json").write_text(json.dumps(rows(docs, scale)))
    out = tmp_path / "growth.md"
    assert bench.main(["--cost-growth", str(tmp_path / "r10000"), str(tmp_path / "r100000"),
                       "--out", str(out)]) == 0
    text = out.read_text()
    assert "100,000 docs" in text and "r100000/bench-seismic.json: load 1.50" in text
