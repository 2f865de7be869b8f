"""The cycle engine: a systolic array that runs GEMMs dense or with N:M weights skipped.

Entry points::

    array = SystolicArray.from_config(load_hw_config("sparse-tc-32x32"))
    report = array.simulate_gemm(Gemm("ffn", m=128, n=3072, k=768), weight_mask=mask)
    report.total_cycles, report.speedup_vs_dense, report.energy_j

``weight_mask`` is ``(N, K)`` bool (one row per output feature); ``nm=(2, 4)`` stands for
weights that are exactly N:M when no mask is at hand. Cost: a few numpy operations per
layer over arrays with one entry per fold; nothing loops per cycle or per PE.
``trace=True`` adds the per-cycle busy-PE count from the cycle-stepped engine
(``simulators.stepped``: small layers only), which is also what this closed form is tested
against.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from simulators.energy import energy_breakdown_j
from simulators.hw_config import HardwareConfig, SparsitySupport
from simulators.mapping import Folds, Gemm, build_folds, tile_width
from simulators.memory import memory_model
from simulators.report import GemmReport
from simulators.sparsity import TilePlan, plan_tiles
from simulators.trace import pe_activity_trace
from suite.errors import UserError

# SCALE-Sim reports the zero-based cycle of the last output write, one less than the count
# of demand lines; we report the same number so dense layers compare one to one.
SCALESIM_LAST_CYCLE_OFFSET = 1


@dataclass(frozen=True)
class SystolicArray:
    """An R x C array built from one validated ``HardwareConfig``."""

    cfg: HardwareConfig

    @classmethod
    def from_config(cls, cfg: HardwareConfig) -> SystolicArray:
        return cls(cfg)

    @cached_property
    def dense(self) -> SystolicArray:
        """The same array with zero-skipping switched off: the baseline for speedup."""
        if self.cfg.sparsity.mode == "dense":
            return self
        return SystolicArray(self.cfg.replace(sparsity=SparsitySupport()))

    def plan(self, gemm: Gemm, weight_mask: np.ndarray | None = None,
             nm: tuple[int, int] | None = None) -> TilePlan:
        """The N:M pattern each weight tile runs with on this array (dense tiles: 1:1)."""
        _check_mask(gemm, weight_mask)
        return plan_tiles(self.cfg.sparsity, gemm.k, gemm.n, tile_width(self.cfg, gemm),
                          mask=weight_mask, nm=nm)

    def simulate_gemm(self, gemm: Gemm, weight_mask: np.ndarray | None = None,
                      nm: tuple[int, int] | None = None, compare_dense: bool = True,
                      trace: bool = False) -> GemmReport:
        plan = self.plan(gemm, weight_mask, nm)
        folds = build_folds(self.cfg, gemm, plan)
        dense = None
        if compare_dense:
            dense = self.dense.simulate_gemm(gemm, weight_mask, nm, compare_dense=False)
        busy = None
        if trace:
            weights = None if weight_mask is None else weight_mask.astype(float)
            busy = pe_activity_trace(self.cfg, gemm, plan, weights)
        return _report(self.cfg, gemm, plan, folds, dense, busy)


def simulate_gemm(array: SystolicArray, m: int, n: int, k: int, *, name: str = "gemm",
                  weight_mask: np.ndarray | None = None, nm: tuple[int, int] | None = None,
                  compare_dense: bool = True, trace: bool = False) -> GemmReport:
    """``array.simulate_gemm`` for a bare ``M x N x K``."""
    return array.simulate_gemm(Gemm(name, m, n, k), weight_mask, nm, compare_dense, trace)


def _check_mask(gemm: Gemm, mask: np.ndarray | None) -> None:
    if min(gemm.m, gemm.n, gemm.k) < 1:
        raise UserError(f"gemm {gemm.name}: M, N, K = {gemm.m}, {gemm.n}, {gemm.k}; "
                        "allowed: integers >= 1")
    if mask is not None and (mask.shape != (gemm.n, gemm.k) or mask.dtype != bool):
        raise UserError(f"weight_mask: got {mask.dtype} {mask.shape}; allowed: bool "
                        f"(N, K) = ({gemm.n}, {gemm.k}), one row per output feature")


def _report(cfg: HardwareConfig, gemm: Gemm, plan, folds: Folds,
            dense: GemmReport | None, trace: np.ndarray | None) -> GemmReport:
    mem = memory_model(cfg, gemm, folds, plan)
    pes = cfg.rows * cfg.cols
    compute = int(folds.cycles.sum()) - SCALESIM_LAST_CYCLE_OFFSET
    total = compute + mem.stall_cycles
    macs = int((folds.rows_used * folds.cols_used * folds.temporal).sum())
    used = folds.rows_used * folds.cols_used
    # SCALE-Sim divides by the ofmap-demand span of a fold: T+R+C-2 (os), 2R+2C+T-3 (ws, is).
    span = folds.cycles + (0 if cfg.dataflow == "os" else cfg.cols - 1)
    energy = energy_breakdown_j(cfg, macs, mem)
    energy_j = sum(energy.values())
    return GemmReport(
        gemm.name, gemm.m, gemm.n, gemm.k, cfg.name, cfg.dataflow, cfg.rows, cfg.cols,
        folds.count, compute, mem.stall_cycles, total, macs, macs / (max(total, 1) * pes),
        macs / (max(compute, 1) * pes), float((used / pes).mean()),
        float((used * folds.temporal / (pes * span)).mean()),
        mem.ifmap_sram_reads, mem.filter_sram_reads, mem.ofmap_sram_writes, mem.ofmap_sram_reads,
        mem.metadata_sram_bytes, mem.ifmap_dram_bytes, mem.filter_dram_bytes,
        mem.ofmap_dram_bytes, mem.metadata_dram_bytes, mem.dram_bytes, energy, energy_j,
        total / (cfg.clock_ghz * 1e9), float((plan.k_compressed * plan.filters).sum()
                                             / plan.filters.sum()),
        plan.fallback_fraction, plan.pattern_counts(),
        dense.total_cycles if dense else None, dense.energy_j if dense else None,
        trace)
