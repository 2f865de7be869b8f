"""The check-then-time loop the A/B scripts in this folder share (plain callables that are
not registered kernels, so ``suite.bench.measure_kernels`` cannot time them).

``check_then_time(runs, x, ref, repeats, label)``: every ``run(x)`` checked against the
float64 ``ref`` (relative error < 1e-5, else the script stops naming the run), then
``repeats`` interleaved rounds; returns name -> seconds per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

TOLERANCE = 1e-5


def check_then_time(runs: dict[str, Callable], x: np.ndarray, ref: np.ndarray, repeats: int,
                    label: str = "") -> dict[str, list[float]]:
    for name, run in runs.items():
        err = np.linalg.norm(run(x) - ref) / np.linalg.norm(ref)
        if not err < TOLERANCE:
            raise SystemExit(f"{label} {name}: relative error {err:.2e} "
                             f"(allowed < {TOLERANCE:g})".strip())
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run(x)
            times[name].append(time.perf_counter() - start)
    return times
