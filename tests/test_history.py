"""``run-suite history``: a trend over many runs, the step located at the run it starts."""

from __future__ import annotations

import json

from suite.history import write_history
from tests.test_compare import run_rows
from tests.test_report import write_run


def test_a_step_is_located_at_the_run_where_it_starts(tmp_path):
    runs = []
    for k, slower in enumerate((1.0, 1.0, 1.0, 1.3, 1.3)):
        out = write_run(tmp_path / f"run-{k}", run_rows(10 * k, slower=slower))
        (out / "env.json").write_text(json.dumps({"started": f"2026-12-0{k + 1}T00:00:00",
                                                  "git_commit": f"c{k}aaaaaaa"}))
        runs.append(out)
    md, png = write_history(list(reversed(runs)), tmp_path / "history")  # any order given
    text = md.read_text()
    steps = text.split("## Trend")[0]
    assert "| spmm | spmm size=1 | `cpu/fast` | `run-3@c3aaaaa` |" in steps
    assert "-23" in steps and "cpu/dense" not in steps
    assert text.index("run-0@c0aaaaa") < text.index("run-4@c4aaaaa")  # oldest first
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_steady_runs_have_no_step(tmp_path):
    runs = [write_run(tmp_path / f"run-{k}", run_rows(10 * k)) for k in range(3)]
    text = write_history(runs, tmp_path / "history")[0].read_text()
    assert "None." in text
