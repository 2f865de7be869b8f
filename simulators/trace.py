"""Per-cycle trace of a small simulated GEMM: how many PEs do a MAC each cycle.

Entry point: ``pe_activity_trace(cfg, gemm, plan) -> np.ndarray`` (one int per cycle, DRAM
stalls included as zeros; ``len == total_cycles + 1``). It comes from the cycle-stepped
engine (``simulators.stepped``), which moves the operands through the array, so it is
exact, and slow: layers above ``MAX_STEPPED_CYCLES`` compute cycles are refused.
"""

from __future__ import annotations

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Gemm
from simulators.sparsity import TilePlan
from simulators.stepped import step_gemm


def pe_activity_trace(cfg: HardwareConfig, gemm: Gemm, plan: TilePlan,
                      weights: np.ndarray | None = None) -> np.ndarray:
    return step_gemm(cfg, gemm, plan, weights).busy_pes
