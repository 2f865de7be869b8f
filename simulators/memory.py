"""SRAM accesses, DRAM traffic and stalls of one GEMM, per fold, in closed form.

Entry point: ``memory_model(cfg, gemm, folds, plan) -> MemoryResult``.

SRAM accesses count words the array reads and writes, fold by fold, as SCALE-Sim counts
them (os: ifmap T x rows, filter T x cols; ws: ifmap T x rows, filter rows x cols, ofmap
T x cols; is: ifmap rows x cols, filter T x rows, ofmap T x cols), with K replaced by the
tile's compressed K for weights; an n:m fold still reads every activation of its K range
(the PE's mux picks among them). Partial sums of a K-folded output are read back.

DRAM: each buffer is double buffered; the next fold's new operand tiles are fetched, and the
previous fold's finished outputs written, while the current fold computes. A fold stalls
when that DRAM work (latency + bytes / bandwidth) outlasts its compute cycles; the first
fetch and the last write-back are never hidden. An operand whose whole matrix fits in half
its buffer is fetched once; otherwise a tile is refetched whenever the fold sequence moves
to a different tile of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Folds, Gemm
from simulators.sparsity import TilePlan


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
    traffic = _dram_traffic(cfg, gemm, folds, words, meta_bits)
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


def _fetch_mask(tile_ids: np.ndarray, resident: bool, too_big: np.ndarray) -> np.ndarray:
    """True where a fold must bring its tile of this operand from DRAM.

    Resident operands: each tile's first use. Otherwise: whenever the tile changes, and
    every fold for a tile larger than half the buffer (it streams through, nothing stays).
    """
    first = np.zeros(tile_ids.size, dtype=bool)
    if resident:
        first[np.unique(tile_ids, return_index=True)[1]] = True
        return first
    first[0] = True
    first[1:] = tile_ids[1:] != tile_ids[:-1]
    return first | too_big


def _dram_traffic(cfg: HardwareConfig, gemm: Gemm, f: Folds, words: dict[str, np.ndarray],
                  meta_bits: np.ndarray) -> dict[str, np.ndarray]:
    wb = cfg.word_bytes
    half = {k: v * 1024 / 2 for k, v in
            (("ifmap", cfg.ifmap_sram_kib), ("filter", cfg.filter_sram_kib),
             ("ofmap", cfg.ofmap_sram_kib))}
    k_ids = f.k_lo * (gemm.k + 1) + f.k_hi
    if cfg.dataflow == "os":
        ifmap_ids, filter_ids = f.row_fold * (gemm.k + 1) + k_ids, f.col_fold
        ifmap_tile = f.rows_used * (f.k_hi - f.k_lo)
        filter_tile = f.temporal * f.cols_used
    elif cfg.dataflow == "ws":
        ifmap_ids, filter_ids = k_ids, f.col_fold * 1_000_003 + f.row_fold
        ifmap_tile, filter_tile = f.temporal * (f.k_hi - f.k_lo), f.rows_used * f.cols_used
    else:
        ifmap_ids, filter_ids = f.col_fold * (gemm.k + 1) ** 2 + k_ids, f.row_fold
        ifmap_tile, filter_tile = (f.k_hi - f.k_lo) * f.cols_used, f.temporal * f.rows_used
    ifmap_resident = gemm.ifmap_unique_words * wb <= half["ifmap"]
    ifmap_fetch = _fetch_mask(ifmap_ids, ifmap_resident, ifmap_tile * wb > half["ifmap"])
    # A resident conv input is fetched pixel by pixel, not as its im2col copies.
    ifmap_scale = gemm.ifmap_unique_words / (gemm.m * gemm.k) if ifmap_resident else 1.0
    filter_big = filter_tile * wb > half["filter"]
    filter_total = words["filter"][_fetch_mask(filter_ids, False, filter_big)].sum() * wb
    filter_fetch = _fetch_mask(filter_ids, filter_total <= half["filter"], filter_big)
    out_tile = words["ofmap_w"] * wb
    spill = out_tile > half["ofmap"]  # partial sums that cannot stay on chip go to DRAM
    last_k_fold = np.append(f.col_fold[1:] != f.col_fold[:-1], True)
    if cfg.dataflow == "os":
        last_k_fold = np.ones(f.count, dtype=bool)
    return {"ifmap": np.where(ifmap_fetch, ifmap_tile * wb * ifmap_scale, 0),
            "filter": np.where(filter_fetch, filter_tile * wb, 0),
            "meta": np.where(filter_fetch, filter_tile * meta_bits / 8, 0),
            "ofmap_out": np.where(last_k_fold | spill, out_tile, 0),
            "ofmap_in": np.where(spill & (words["ofmap_r"] > 0), out_tile, 0)}


def _stalls(cfg: HardwareConfig, f: Folds, traffic: dict[str, np.ndarray]):
    """Per-fold stall when prefetching fold i+1 and writing back fold i-1 outlast fold i."""
    bw, lat = cfg.dram_bandwidth_bytes_per_cycle, cfg.dram_latency_cycles
    fetch = traffic["ifmap"] + traffic["filter"] + traffic["meta"] + traffic["ofmap_in"]
    written = traffic["ofmap_out"]
    next_fetch = np.append(fetch[1:], 0.0)
    prev_write = np.concatenate(([0.0], written[:-1]))
    busy = np.ceil((next_fetch + prev_write) / bw) + np.where(next_fetch > 0, lat, 0)
    stalls = np.maximum(0, busy - f.cycles).astype(np.int64)
    prologue = int(np.ceil(fetch[0] / bw)) + lat
    epilogue = int(np.ceil(written[-1] / bw))
    return stalls, prologue, epilogue
