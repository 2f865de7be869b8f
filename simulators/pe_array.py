"""One fold on the PE grid, cycle by cycle: operands enter at the edges and move one PE a cycle.

Entry point: ``run_fold(cfg, fold, x, out)``: a generator that yields, every cycle of the
fold, how many PEs did a MAC, and returns ``FoldCounts`` (SRAM words read and written,
MACs). ``out`` (M x N) is the ofmap store: ws/is folds read partial sums from it and write
them back; the functional result ends there. Cost: a few numpy operations on R x C arrays
per cycle; small layers only.

Timing, as in SCALE-Sim: an optional index-decode stage (``metadata_decode_cycles``) for a
sparse fold; ws and is first shift the stationary operand down, one row a cycle (R cycles);
then the wavefront: row i receives step t at cycle t + i and passes it right, so PE (i, j)
works on step t at cycle t + i + j. Tokens cross all R x C PEs (unused ones pass bubbles),
so a fold lasts until the last token leaves PE (R-1, C-1). A slot's PE receives its whole
group of m activations and its index picks one (the mux of a sparse tensor core).
SRAM reads are the distinct words a fold takes from its buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.stepped_schedule import FoldSpec


@dataclass
class FoldCounts:
    ifmap_reads: int = 0
    filter_reads: int = 0
    ofmap_writes: int = 0
    ofmap_reads: int = 0
    macs: int = 0


class _Grid:
    """Registers of one operand stream across the array: value, index, activation group."""

    def __init__(self, rows: int, cols: int, width: int):
        self.val = np.zeros((rows, cols))
        self.idx = np.zeros((rows, cols), dtype=np.int64)
        self.vec = np.zeros((rows, cols, width))
        self.tok = np.full((rows, cols), -1, dtype=np.int64)

    def shift_right(self) -> None:
        for a in (self.val, self.idx, self.vec, self.tok):
            a[:, 1:] = a[:, :-1]

    def shift_down(self) -> None:
        for a in (self.val, self.idx, self.vec, self.tok):
            a[1:] = a[:-1]


def _group_vector(x: np.ndarray, row: int, group: int, m: int) -> tuple[np.ndarray, slice]:
    k = x.shape[1]
    span = slice(group * m, min(k, group * m + m))
    vec = np.zeros(m)
    vec[:span.stop - span.start] = x[row, span]
    return vec, span


class _Reads:
    """Distinct words a fold reads: activations (M x K) and weights (filter, slot)."""

    def __init__(self, x: np.ndarray, fold: FoldSpec):
        self.ifmap = np.zeros(x.shape, dtype=bool)
        self.filter: set[tuple[int, int]] = set()

    def activation(self, x, row: int, group: int, m: int) -> np.ndarray:
        vec, span = _group_vector(x, row, group, m)
        self.ifmap[row, span] = True
        return vec

    def weight(self, tile, f_pos: int, slot: int) -> tuple[float, int]:
        self.filter.add((int(tile.filters[f_pos]), slot))
        return tile.values[f_pos, slot], tile.index[f_pos, slot]


def _decode(cfg: HardwareConfig, fold: FoldSpec):
    for _ in range(cfg.metadata_decode_cycles if fold.tile.sparse else 0):
        yield 0


def run_fold(cfg: HardwareConfig, fold: FoldSpec, x: np.ndarray, out: np.ndarray):
    yield from _decode(cfg, fold)
    if cfg.dataflow == "os":
        counts = yield from _output_stationary(cfg, fold, x, out)
    else:
        counts = yield from _stationary(cfg, fold, x, out)
    return counts


def _os_feed(grid_a: _Grid, grid_b: _Grid, cycle: int, fold: FoldSpec, x, reads) -> None:
    tile, t_len = fold.tile, fold.temporal
    for i in range(grid_a.tok.shape[0]):
        t = cycle - i
        grid_a.tok[i, 0] = t if 0 <= t < t_len else -1
        if 0 <= t < t_len and i < len(fold.array_rows):
            grid_a.vec[i, 0] = reads.activation(x, fold.array_rows[i], tile.slot_group[t], tile.m)
    for j in range(grid_b.tok.shape[1]):
        t = cycle - j
        grid_b.tok[0, j] = t if 0 <= t < t_len else -1
        if 0 <= t < t_len and j < len(fold.array_cols):
            grid_b.val[0, j], grid_b.idx[0, j] = reads.weight(tile, j, t)


def _used(cfg: HardwareConfig, rows: int, cols: int) -> np.ndarray:
    used = np.zeros((cfg.rows, cfg.cols), dtype=bool)
    used[:rows, :cols] = True
    return used


def _output_stationary(cfg: HardwareConfig, fold: FoldSpec, x, out):
    r, c, width = cfg.rows, cfg.cols, fold.tile.m
    acts, weights, acc = _Grid(r, c, width), _Grid(r, c, width), np.zeros((r, c))
    used, reads = _used(cfg, len(fold.array_rows), len(fold.array_cols)), _Reads(x, fold)
    macs = 0
    for cycle in range(fold.temporal + r + c - 2):
        acts.shift_right()
        weights.shift_down()
        _os_feed(acts, weights, cycle, fold, x, reads)
        active = used & (acts.tok >= 0)
        assert np.array_equal(acts.tok[active], weights.tok[active])
        picked = np.take_along_axis(acts.vec, weights.idx[..., None], axis=2)[..., 0]
        acc += np.where(active, weights.val * picked, 0.0)
        macs += int(active.sum())
        yield int(active.sum())
    rows_used, cols_used = len(fold.array_rows), len(fold.array_cols)
    out[np.ix_(fold.array_rows, fold.tile.filters)] = acc[:rows_used, :cols_used]
    return FoldCounts(int(reads.ifmap.sum()), len(reads.filter), rows_used * cols_used, 0, macs)


def _load_stationary(cfg: HardwareConfig, fold: FoldSpec, x, reads, grid: _Grid):
    """ws: weights, is: activation groups, shifted down one array row a cycle (R cycles)."""
    tile, ws = fold.tile, cfg.dataflow == "ws"
    for cycle in range(cfg.rows):
        grid.shift_down()
        source = cfg.rows - 1 - cycle
        grid.tok[0], grid.val[0], grid.idx[0], grid.vec[0] = -1, 0.0, 0, 0.0
        if source < len(fold.slots):
            slot = fold.slots[source]
            for j in range(len(fold.array_cols)):
                if ws:
                    grid.val[0, j], grid.idx[0, j] = reads.weight(tile, j, slot)
                else:
                    grid.vec[0, j] = reads.activation(x, fold.array_cols[j],
                                                      tile.slot_group[slot], tile.m)
        yield 0


def _stream_feed(cfg: HardwareConfig, fold: FoldSpec, x, reads, grid: _Grid, cycle: int):
    tile, ws = fold.tile, cfg.dataflow == "ws"
    for i in range(cfg.rows):
        t = cycle - i
        valid = 0 <= t < fold.temporal
        grid.tok[i, 0] = t if valid else -1
        if valid and i < len(fold.slots):
            slot = fold.slots[i]
            if ws:
                grid.vec[i, 0] = reads.activation(x, t, tile.slot_group[slot], tile.m)
            else:
                grid.val[i, 0], grid.idx[i, 0] = reads.weight(tile, t, slot)


def _output_address(cfg: HardwareConfig, fold: FoldSpec, t: int, j: int) -> tuple[int, int]:
    if cfg.dataflow == "ws":
        return t, int(fold.tile.filters[j])
    return int(fold.array_cols[j]), t


def _psum_top(cfg, fold: FoldSpec, psum, tok, cycle: int, out, counts: FoldCounts) -> None:
    """Partial sums enter each column at the top: 0 on the first K fold, else read back."""
    for j in range(cfg.cols):
        t = cycle - j
        valid = 0 <= t < fold.temporal
        tok[0, j], psum[0, j] = (t if valid else -1), 0.0
        if valid and j < len(fold.array_cols) and not fold.first_k:
            psum[0, j] = out[_output_address(cfg, fold, t, j)]
            counts.ofmap_reads += 1


def _psum_bottom(cfg, fold: FoldSpec, psum, tok, out, counts: FoldCounts) -> None:
    for j in range(len(fold.array_cols)):
        t = int(tok[-1, j])
        if t >= 0:
            out[_output_address(cfg, fold, t, j)] = psum[-1, j]
            counts.ofmap_writes += 1


def _stationary(cfg: HardwareConfig, fold: FoldSpec, x, out):
    """ws and is: load the stationary operand, stream the other, partial sums flow down."""
    r, c, width, ws = cfg.rows, cfg.cols, fold.tile.m, cfg.dataflow == "ws"
    still, moving, reads = _Grid(r, c, width), _Grid(r, c, width), _Reads(x, fold)
    yield from _load_stationary(cfg, fold, x, reads, still)
    used, counts = _used(cfg, len(fold.slots), len(fold.array_cols)), FoldCounts()
    psum, tok = np.zeros((r, c)), np.full((r, c), -1, dtype=np.int64)
    weights, acts = (still, moving) if ws else (moving, still)
    for cycle in range(fold.temporal + r + c - 2):
        moving.shift_right()
        _stream_feed(cfg, fold, x, reads, moving, cycle)
        psum[1:], tok[1:] = psum[:-1], tok[:-1]
        _psum_top(cfg, fold, psum, tok, cycle, out, counts)
        active = used & (moving.tok >= 0)
        assert np.array_equal(moving.tok[active], tok[active])
        picked = np.take_along_axis(acts.vec, weights.idx[..., None], axis=2)[..., 0]
        psum += np.where(active, weights.val * picked, 0.0)
        _psum_bottom(cfg, fold, psum, tok, out, counts)
        counts.macs += int(active.sum())
        yield int(active.sum())
    counts.ifmap_reads, counts.filter_reads = int(reads.ifmap.sum()), len(reads.filter)
    return counts
