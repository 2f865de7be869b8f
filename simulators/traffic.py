"""DRAM bytes of one GEMM, per fold: which operand tiles each fold brings in and writes out.

Entry point: ``dram_traffic(cfg, gemm, folds, words, meta_bits) -> dict`` of per-fold byte
arrays (``ifmap``, ``filter``, ``meta``, ``ofmap_out``, ``ofmap_in``). Cost: a few numpy
passes over one entry per fold. The rules, which ``simulators.stepped`` implements word by
word and the property tests hold this module to:

* Each buffer is double buffered; "fits" means fits in half of it.
* An operand that fits whole is *resident*: each word comes from DRAM the first time a fold
  needs it and stays (a conv input counts its distinct pixels: the bytes are scaled by
  distinct / im2col words). The filter's size is its values plus their N:M indices.
* Otherwise the operand *streams*: a fold fetches its whole tile unless the previous fold
  used the same tile and that tile fits in half the buffer.
* Outputs: a tile that fits in half the ofmap buffer accumulates there and is written once,
  after its last K fold; a larger one spills: written every fold, read back for the next.
"""

from __future__ import annotations

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Folds, Gemm


def half_buffers_bytes(cfg: HardwareConfig) -> dict[str, float]:
    """Bytes of the active half of each double-buffered SRAM."""
    return {"ifmap": cfg.ifmap_sram_kib * 512, "filter": cfg.filter_sram_kib * 512,
            "ofmap": cfg.ofmap_sram_kib * 512}


def operand_tiles(cfg: HardwareConfig, f: Folds) -> dict[str, tuple]:
    """Per fold, what identifies its ifmap and filter tile, and each tile's words.

    ifmap: (block, k_lo, k_hi) where block is the activation rows (os: row fold) or
    columns (is: col fold) the fold reads; ws reads all M rows (block 0).
    """
    zeros = np.zeros(f.count, dtype=np.int64)
    k_span = f.k_hi - f.k_lo
    if cfg.dataflow == "os":
        return {"ifmap": ((f.row_fold, f.k_lo, f.k_hi), f.rows_used * k_span),
                "filter": ((f.col_fold, zeros), f.temporal * f.cols_used)}
    if cfg.dataflow == "ws":
        return {"ifmap": ((zeros, f.k_lo, f.k_hi), f.temporal * k_span),
                "filter": ((f.col_fold, f.row_fold), f.rows_used * f.cols_used)}
    return {"ifmap": ((f.col_fold, f.k_lo, f.k_hi), k_span * f.cols_used),
            "filter": ((f.row_fold, zeros), f.temporal * f.rows_used)}


def _same_as_previous(ids: tuple) -> np.ndarray:
    same = np.zeros(ids[0].size, dtype=bool)
    same[1:] = True
    for part in ids:
        same[1:] &= part[1:] == part[:-1]
    return same


def _first_use(ids: tuple) -> np.ndarray:
    key = np.zeros(ids[0].size, dtype=np.int64)
    for part in ids:  # mixed radix: distinct id tuples get distinct keys
        key = key * (int(part.max()) + 1) + part
    first = np.zeros(key.size, dtype=bool)
    first[np.unique(key, return_index=True)[1]] = True
    return first


def _streamed(ids: tuple, tile_bytes: np.ndarray, half: float) -> np.ndarray:
    """Folds that fetch their tile when the operand streams through its buffer."""
    return ~_same_as_previous(ids) | (tile_bytes > half)


def _new_ifmap_words(block: np.ndarray, k_lo: np.ndarray, k_hi: np.ndarray,
                     k: int) -> np.ndarray:
    """Per fold, K positions of its range that no earlier fold of the same block touched.

    Earlier ranges of one block always cover a prefix [0, reach) of K (each tile's folds
    walk K upward from 0), so the new part is [max(k_lo, reach), k_hi).
    """
    order = np.lexsort((np.arange(block.size), block))
    sorted_block = block[order]
    band = np.cumsum(np.append(True, sorted_block[1:] != sorted_block[:-1])) * (k + 1)
    shifted = k_hi[order] + band
    before = np.concatenate(([0], np.maximum.accumulate(shifted)[:-1]))
    reach = np.maximum(before - band, 0)
    new = np.maximum(0, k_hi[order] - np.maximum(k_lo[order], reach))
    out = np.empty_like(new)
    out[order] = new
    return out


def _ifmap_bytes(cfg: HardwareConfig, gemm: Gemm, f: Folds, half: float) -> np.ndarray:
    ids, words = operand_tiles(cfg, f)["ifmap"]
    wb = cfg.word_bytes
    if gemm.ifmap_unique_words * wb <= half:
        rows = words // np.maximum(f.k_hi - f.k_lo, 1)
        new = rows * _new_ifmap_words(ids[0], f.k_lo, f.k_hi, gemm.k)
        return new * wb * (gemm.ifmap_unique_words / (gemm.m * gemm.k))
    return np.where(_streamed(ids, words * wb, half), words * wb, 0).astype(float)


def _filter_bytes(cfg: HardwareConfig, f: Folds, meta_bits: np.ndarray,
                  half: float) -> tuple[np.ndarray, np.ndarray]:
    ids, words = operand_tiles(cfg, f)["filter"]
    values, meta = words * cfg.word_bytes, words * meta_bits / 8
    first = _first_use(ids)
    if (values + meta)[first].sum() <= half:
        fetch = first
    else:
        fetch = _streamed(ids, values + meta, half)
    return np.where(fetch, values, 0).astype(float), np.where(fetch, meta, 0.0)


def dram_traffic(cfg: HardwareConfig, gemm: Gemm, f: Folds, words: dict[str, np.ndarray],
                 meta_bits: np.ndarray) -> dict[str, np.ndarray]:
    half = half_buffers_bytes(cfg)
    filter_bytes, meta_bytes = _filter_bytes(cfg, f, meta_bits, half["filter"])
    out_tile = (words["ofmap_w"] * cfg.word_bytes).astype(float)
    spill = out_tile > half["ofmap"]
    last_k_fold = np.append(f.col_fold[1:] != f.col_fold[:-1], True)
    if cfg.dataflow == "os":
        last_k_fold = np.ones(f.count, dtype=bool)
    return {"ifmap": _ifmap_bytes(cfg, gemm, f, half["ifmap"]),
            "filter": filter_bytes, "meta": meta_bytes,
            "ofmap_out": np.where(last_k_fold | spill, out_tile, 0.0),
            "ofmap_in": np.where(spill & (words["ofmap_r"] > 0), out_tile, 0.0)}
