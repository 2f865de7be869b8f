"""Optional per-cycle trace of a small simulated GEMM: how many PEs do a MAC each cycle.

Entry point: ``pe_activity_trace(cfg, folds) -> np.ndarray`` (one int per compute cycle).
PE (i, j) of a fold works T consecutive cycles starting at i + j after the fold begins
(plus R cycles of weight/input loading for ws and is): the systolic wavefront. Built per
fold with cumulative sums, never per PE; refused above ``MAX_TRACE_CYCLES``.
"""

from __future__ import annotations

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Folds
from suite.errors import UserError

MAX_TRACE_CYCLES = 2_000_000


def pe_activity_trace(cfg: HardwareConfig, folds: Folds) -> np.ndarray:
    total = int(folds.cycles.sum())
    if total > MAX_TRACE_CYCLES:
        raise UserError(f"trace: {total} cycles; allowed: at most {MAX_TRACE_CYCLES} "
                        "(trace small cases only)")
    out = np.zeros(total, dtype=np.int32)
    start = 0
    load = 0 if cfg.dataflow == "os" else cfg.rows
    for rows, cols, t, cycles in zip(folds.rows_used, folds.cols_used, folds.temporal,
                                     folds.cycles, strict=True):
        out[start:start + cycles] = _fold_activity(int(rows), int(cols), int(t), int(cycles), load)
        start += int(cycles)
    return out


def _fold_activity(rows: int, cols: int, t: int, cycles: int, load: int) -> np.ndarray:
    diag = np.arange(rows + cols - 1)
    per_diag = np.minimum(np.minimum(diag + 1, rows), np.minimum(cols, rows + cols - 1 - diag))
    starts = np.zeros(cycles + 1, dtype=np.int64)
    ends = np.zeros(cycles + 1, dtype=np.int64)
    np.add.at(starts, np.minimum(diag + load, cycles), per_diag)
    np.add.at(ends, np.minimum(diag + load + t, cycles), per_diag)
    return np.cumsum(starts - ends)[:cycles]
