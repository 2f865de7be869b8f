"""SRAM accesses, DRAM traffic and stalls of one GEMM, per fold, in closed form.

Entry point: ``memory_model(cfg, gemm, folds, plan) -> MemoryResult``.

SRAM accesses count words the array reads and writes, fold by fold, as SCALE-Sim counts
them (os: ifmap T x rows, filter T x cols; ws: ifmap T x rows, filter rows x cols, ofmap
T x cols; is: ifmap rows x cols, filter T x rows, ofmap T x cols), with K replaced by the
tile's compressed K for weights; an n:m fold still reads every activation of its K range
(the PE's mux picks among them). Partial sums of a K-folded output are read back.

DRAM (bytes per fold: ``simulators.traffic``): the next fold's new operand tiles are
fetched, and the previous fold's finished outputs written, while the current fold
computes, on one channel of ``dram_bandwidth_bytes_per_cycle``: writes first, then reads,
whose data land ``dram_latency_cycles`` after their last byte. A fold stalls when that
DRAM work outlasts its compute cycles; the first fetch and the last write-back are never
hidden. ``simulators.stepped`` runs the same machine cycle by cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Folds, Gemm
from simulators.sparsity import TilePlan
from simulators.traffic import dram_traffic


@dataclass(frozen=True)
class MemoryResult:
    """Counts are words for SRAM and bytes for DRAM; ``stall_cycles_per_fold`` excludes the
    unhidden first fetch and last write-back (``prologue/epilogue_cycles``)."""

    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int
    ofmap_sram_reads: int
    metadata_sram_bytes: float
    metadata_decodes: int
    ifmap_dram_bytes: float
    filter_dram_bytes: float
    ofmap_dram_bytes: float
    metadata_dram_bytes: float
    stall_cycles_per_fold: np.ndarray
    prologue_cycles: int
    epilogue_cycles: int

    @property
    def dram_bytes(self) -> float:
        return (self.ifmap_dram_bytes + self.filter_dram_bytes + self.ofmap_dram_bytes
                + self.metadata_dram_bytes)

    @property
    def stall_cycles(self) -> int:
        return int(self.stall_cycles_per_fold.sum()) + self.prologue_cycles + self.epilogue_cycles


def memory_model(cfg: HardwareConfig, gemm: Gemm, folds: Folds, plan: TilePlan) -> MemoryResult:
    words = _sram_words(cfg, gemm, folds)
    meta_bits = np.where(folds.sparse, cfg.metadata_bits, 0)
    meta_sram_bytes = float((words["filter"] * meta_bits).sum() / 8)
    traffic = dram_traffic(cfg, gemm, folds, words, meta_bits)
    stalls, prologue, epilogue = _stalls(cfg, folds, traffic)
    return MemoryResult(
        int(words["ifmap"].sum()), int(words["filter"].sum()), int(words["ofmap_w"].sum()),
        int(words["ofmap_r"].sum()), meta_sram_bytes,
        int(words["filter"][folds.sparse].sum()),
        _total(traffic["ifmap"]), _total(traffic["filter"]),
        _total(traffic["ofmap_out"]) + _total(traffic["ofmap_in"]),
        _total(traffic["meta"]), stalls, prologue, epilogue)


def _total(per_fold: np.ndarray) -> float:
    """Sum of a per-fold byte count; rounded so scaled sums stay whole numbers."""
    return round(float(per_fold.sum()), 6)


def _sram_words(cfg: HardwareConfig, gemm: Gemm, f: Folds) -> dict[str, np.ndarray]:
    """Words the array moves per fold (SCALE-Sim's counting, K compressed for weights)."""
    k_span = f.k_hi - f.k_lo
    first_k_fold = f.row_fold == 0
    if cfg.dataflow == "os":
        ofmap = f.rows_used * f.cols_used
        return {"ifmap": f.rows_used * k_span, "filter": f.temporal * f.cols_used,
                "ofmap_w": ofmap, "ofmap_r": np.zeros_like(ofmap)}
    if cfg.dataflow == "ws":
        ofmap = f.temporal * f.cols_used
        return {"ifmap": f.temporal * k_span, "filter": f.rows_used * f.cols_used,
                "ofmap_w": ofmap, "ofmap_r": np.where(first_k_fold, 0, ofmap)}
    ofmap = f.temporal * f.cols_used
    return {"ifmap": k_span * f.cols_used, "filter": f.temporal * f.rows_used,
            "ofmap_w": ofmap, "ofmap_r": np.where(first_k_fold, 0, ofmap)}


def cycles_to_move(bytes_moved, bandwidth_bytes_per_cycle: float):
    """Whole cycles a channel of this bandwidth needs for ``bytes_moved`` (0 for none).

    The tolerance keeps a float quotient such as 3.0000000000000004 from costing a cycle.
    """
    return np.ceil(np.asarray(bytes_moved, dtype=float) / bandwidth_bytes_per_cycle - 1e-9)


def _stalls(cfg: HardwareConfig, f: Folds, traffic: dict[str, np.ndarray]):
    """Per-fold stall when prefetching fold i+1 and writing back fold i-1 outlast fold i."""
    bw, lat = cfg.dram_bandwidth_bytes_per_cycle, cfg.dram_latency_cycles
    fetch = traffic["ifmap"] + traffic["filter"] + traffic["meta"] + traffic["ofmap_in"]
    written = traffic["ofmap_out"]
    next_fetch = np.append(fetch[1:], 0.0)
    prev_write = np.concatenate(([0.0], written[:-1]))
    busy = cycles_to_move(next_fetch + prev_write, bw) + np.where(next_fetch > 0, lat, 0)
    stalls = np.maximum(0, busy - f.cycles).astype(np.int64)
    prologue = int(cycles_to_move(fetch[0], bw)) + (lat if fetch[0] > 0 else 0)
    epilogue = int(cycles_to_move(written[-1], bw))
    return stalls, prologue, epilogue
