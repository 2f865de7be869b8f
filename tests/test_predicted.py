"""The predicted-vs-achieved table puts a layer's simulated and measured speedups in one row."""

from __future__ import annotations

import pandas as pd
import pytest

from suite.predicted import predicted_markdown, predicted_vs_achieved


def row(device, kernel, speedup, baseline=False, status="ok", label="layer 2:4"):
    return {"family": "spmm", "instance_label": label, "device": device, "kernel": kernel,
            "speedup": speedup, "is_baseline": baseline, "status": status}


FRAME = pd.DataFrame([
    row("cpu", "dense", 1.0, baseline=True), row("cpu", "nm-numba", 0.9),
    row("cpu", "scipy-csr", 0.2), row("cpu", "null", 50.0), row("cpu", "broken", None, status="failed"),
    row("sim:tc", "dense", 1.0, baseline=True), row("sim:tc", "nm", 1.8),
    row("cpu", "dense", 1.0, baseline=True, label="cpu only"), row("cpu", "nm-numba", 2.0, label="cpu only"),
])


def test_one_row_per_measured_and_simulated_device_of_an_instance():
    table = predicted_vs_achieved(FRAME)
    assert len(table) == 1
    r = table.iloc[0]
    assert (r["by"], r["achieved"], r["by (sim)"], r["predicted"]) == ("nm-numba", 0.9, "nm", 1.8)
    assert r["achieved / predicted"] == pytest.approx(0.5)


def test_the_null_system_and_failed_rows_never_count_as_achieved():
    table = predicted_vs_achieved(FRAME)
    assert "null" not in set(table["by"]) and "broken" not in set(table["by"])


def test_markdown_says_when_nothing_ran_on_both():
    only_cpu = FRAME[FRAME.instance_label == "cpu only"]
    assert "No instance ran on both" in predicted_markdown(only_cpu)
    assert "| spmm | layer 2:4 | cpu | 0.90 | nm-numba | sim:tc | 1.80 | nm | 0.50 |" \
        in predicted_markdown(FRAME)
