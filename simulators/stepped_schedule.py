"""The reference engine's view of a GEMM: compressed weight tiles and the folds, from loops.

Entry points: ``compress_tile(weights, n, m)`` -> ``Tile`` (what the PEs of one tile hold)
and ``fold_schedule(cfg, gemm, tiles)`` -> list of ``FoldSpec``. Written as plain loops over
groups, slots and folds, independently of ``simulators.mapping`` (the closed form), so the
property tests compare two derivations. Cost: Python loops; small layers only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Gemm


@dataclass(frozen=True)
class Tile:
    """One tile of filters in compressed form: per slot its group of K and, per filter,
    the kept value and its position in the group (``index``)."""

    filters: np.ndarray       # output features in the tile
    n: int
    m: int
    slot_group: np.ndarray    # (slots,) group of each slot
    values: np.ndarray        # (filters, slots)
    index: np.ndarray         # (filters, slots), 0..m-1

    @property
    def sparse(self) -> bool:
        return self.m > 1

    @property
    def slots(self) -> int:
        return int(self.slot_group.size)


def compress_tile(filters: np.ndarray, weights: np.ndarray, n: int, m: int) -> Tile:
    """Walk every group of m along K: keep min(n, group width) slots, fill them with the
    group's non-zeros in position order, pad with zero values."""
    k = weights.shape[1]
    groups, values, index = [], [], []
    for g, start in enumerate(range(0, k, m)):
        block = weights[:, start:start + m]
        for j in range(min(n, block.shape[1])):
            groups.append(g)
            value, where = np.zeros(len(filters)), np.zeros(len(filters), dtype=np.int64)
            for f, row in enumerate(block):
                nonzero = np.flatnonzero(row)
                if nonzero.size > n:
                    raise ValueError(f"filter {filters[f]} group {g}: {nonzero.size} > {n}")
                if j < nonzero.size:
                    value[f], where[f] = row[nonzero[j]], nonzero[j]
            values.append(value)
            index.append(where)
    return Tile(filters, n, m, np.array(groups, dtype=np.int64),
                np.stack(values, axis=1), np.stack(index, axis=1))


@dataclass(frozen=True)
class FoldSpec:
    """One fold: its tile, the compressed slots on the array rows (ws, is) or streamed (os),
    the activation rows or filters on the other axis, and whether it opens/closes a K sweep."""

    tile: Tile
    slots: np.ndarray
    array_rows: np.ndarray    # os: activation rows; ws/is: slot numbers (same as slots)
    array_cols: np.ndarray    # os, ws: filters; is: activation rows
    temporal: int
    first_k: bool
    last_k: bool


def _chunks(items: np.ndarray, size: int) -> list[np.ndarray]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def fold_schedule(cfg: HardwareConfig, gemm: Gemm, tiles: list[Tile]) -> list[FoldSpec]:
    """Folds in execution order: column fold outer, row fold inner (as SCALE-Sim)."""
    r, c = cfg.rows, cfg.cols
    folds = []
    if cfg.dataflow == "os":
        for tile in tiles:
            for rows in _chunks(np.arange(gemm.m), r):
                slots = np.arange(tile.slots)
                folds.append(FoldSpec(tile, slots, rows, tile.filters, tile.slots, True, True))
        return folds
    col_axis = [t.filters for t in tiles] if cfg.dataflow == "ws" else _chunks(
        np.arange(gemm.m), c)
    for number, cols in enumerate(col_axis):
        tile = tiles[number] if cfg.dataflow == "ws" else tiles[0]
        temporal = gemm.m if cfg.dataflow == "ws" else gemm.n
        blocks = _chunks(np.arange(tile.slots), r)
        for i, slots in enumerate(blocks):
            folds.append(FoldSpec(tile, slots, slots, cols, temporal, i == 0,
                                  i == len(blocks) - 1))
    return folds
