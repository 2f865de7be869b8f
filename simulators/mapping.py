"""How a GEMM maps onto the array: SCALE-Sim's operand view, folds and per-fold cycles.

Entry point: ``build_folds(cfg, gemm, plan)`` -> ``Folds`` (one numpy entry per fold).
GEMM ``M x N x K`` follows SCALE-Sim: the ifmap operand is ``M x K`` (activations, im2col
rows for a conv), the filter operand ``K x N`` (weights, one column per output feature) and
the ofmap ``M x N``. Spatial rows / spatial cols / temporal per dataflow (as SCALE-Sim):

====  =========  =========  ========  ==========================
df    Sr (rows)  Sc (cols)  T (time)  cycles per fold
====  =========  =========  ========  ==========================
os    M          N          K         T + R + C - 2
ws    K          N          M         2R + C + T - 2
is    K          M          N         2R + C + T - 2
====  =========  =========  ========  ==========================

Folds run column-fold outer, row-fold inner. With N:M weights K becomes the compressed
``k_compressed`` of the tile (a column fold for os/ws; all filters for is), and a sparse
fold spends ``metadata_decode_cycles`` more in its pipeline (the index-decode stage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.sparsity import TilePlan


@dataclass(frozen=True)
class Gemm:
    """One GEMM layer: ``m`` rows of activations, ``n`` output features, ``k`` reduction.

    ``ifmap_words``: distinct input words when fewer than ``m * k`` (a conv's im2col matrix
    repeats each pixel up to window-size times; DRAM fetches each once if it stays on chip).
    """

    name: str
    m: int
    n: int
    k: int
    ifmap_words: int | None = None

    @property
    def ifmap_unique_words(self) -> int:
        return self.ifmap_words or self.m * self.k

    @classmethod
    def from_conv(cls, name: str, ifmap_h: int, ifmap_w: int, filter_h: int, filter_w: int,
                  channels: int, filters: int, stride: int = 1) -> Gemm:
        """im2col as SCALE-Sim does it: ofmap pixels x (filter window), valid padding."""
        out_h = math.ceil((ifmap_h - filter_h + stride) / stride)
        out_w = math.ceil((ifmap_w - filter_w + stride) / stride)
        return cls(name, out_h * out_w, filters, filter_h * filter_w * channels,
                   ifmap_words=ifmap_h * ifmap_w * channels)


def tile_width(cfg: HardwareConfig, gemm: Gemm) -> int:
    """Filters that share one fold schedule (and so one N:M pattern)."""
    return gemm.n if cfg.dataflow == "is" else cfg.cols


@dataclass(frozen=True)
class Folds:
    """Per fold: tile, row/col fold index, PEs used, temporal length and cycles.

    ``k_lo``/``k_hi``: the dense K range of activations the fold needs: every group of m
    that one of its compressed slots belongs to (about m/n times its rows).
    """

    tile: np.ndarray
    row_fold: np.ndarray
    col_fold: np.ndarray
    rows_used: np.ndarray
    cols_used: np.ndarray
    temporal: np.ndarray
    cycles: np.ndarray
    k_lo: np.ndarray
    k_hi: np.ndarray
    sparse: np.ndarray

    @property
    def count(self) -> int:
        return int(self.cycles.size)


def build_folds(cfg: HardwareConfig, gemm: Gemm, plan: TilePlan) -> Folds:
    if cfg.dataflow == "os":
        return _os_folds(cfg, gemm, plan)
    return _k_spatial_folds(cfg, gemm, plan)


def _used(total: int, size: int, index: np.ndarray) -> np.ndarray:
    return np.minimum(size, total - index * size)


def _os_folds(cfg: HardwareConfig, gemm: Gemm, plan: TilePlan) -> Folds:
    r, c = cfg.rows, cfg.cols
    row_folds = math.ceil(gemm.m / r)
    col_fold = np.repeat(np.arange(plan.filters.size), row_folds)
    row_fold = np.tile(np.arange(row_folds), plan.filters.size)
    sparse = plan.sparse[col_fold]
    temporal = plan.k_compressed[col_fold]
    cycles = temporal + r + c - 2 + sparse * cfg.metadata_decode_cycles
    k_all = np.full(col_fold.size, gemm.k)
    return Folds(col_fold, row_fold, col_fold, _used(gemm.m, r, row_fold),
                 plan.filters[col_fold], temporal, cycles, np.zeros_like(k_all), k_all, sparse)


def _k_spatial_folds(cfg: HardwareConfig, gemm: Gemm, plan: TilePlan) -> Folds:
    """ws and is: the (compressed) K runs down the rows; is keeps one tile for all filters."""
    r, c = cfg.rows, cfg.cols
    ws = cfg.dataflow == "ws"
    col_total = gemm.n if ws else gemm.m
    col_folds = math.ceil(col_total / c)
    tile_of_col = np.arange(col_folds) if ws else np.zeros(col_folds, dtype=np.int64)
    row_folds = -(-plan.k_compressed[tile_of_col] // r)
    col_fold = np.repeat(np.arange(col_folds), row_folds)
    row_fold = np.arange(col_fold.size) - np.repeat(np.cumsum(row_folds) - row_folds, row_folds)
    tile = tile_of_col[col_fold]
    rows_used = np.minimum(r, plan.k_compressed[tile] - row_fold * r)
    temporal = np.full(col_fold.size, gemm.m if ws else gemm.n)
    sparse = plan.sparse[tile]
    cycles = 2 * r + c + temporal - 2 + sparse * cfg.metadata_decode_cycles
    n, m = plan.n[tile], plan.m[tile]
    # A slot's mux picks among its whole group of m activations: the fold needs every
    # activation of the groups its slots belong to (slots run n per group).
    first_slot = row_fold * r
    k_lo = np.minimum(gemm.k, (first_slot // n) * m)
    k_hi = np.minimum(gemm.k, ((first_slot + rows_used - 1) // n + 1) * m)
    return Folds(tile, row_fold, col_fold, rows_used, _used(col_total, c, col_fold), temporal,
                 cycles, k_lo, k_hi, sparse)
