"""The cycle-stepped reference engine: the truth the closed form is tested against.

Entry point::

    result = step_gemm(cfg, Gemm("g", 12, 10, 20), weight_mask=mask)   # small layers only
    result.total_cycles, result.stall_cycles, result.ifmap_dram_bytes, result.busy_pes

It advances one cycle at a time: each fold's operands move through the PE grid
(``simulators.pe_array``) while the DRAM channel (``simulators.stepped_memory``) writes
back the previous fold's outputs and prefetches the next fold's words into the other half
of each buffer; a fold starts when the one before it has drained and its words have
landed. Cycle numbers follow SCALE-Sim (``total_cycles`` is the zero-based cycle of the
last event). It also computes the GEMM itself from the compressed operands, so a wrong
dataflow shows as a wrong ``output``. Cost: Python and small numpy work per cycle, about
10-20 microseconds a cycle on an 8 x 8 array; refused above ``MAX_STEPPED_CYCLES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Gemm, build_folds
from simulators.pe_array import FoldCounts, run_fold
from simulators.sparsity import TilePlan
from simulators.stepped_memory import DramChannel, FoldMemory, fold_ifmap_words
from simulators.stepped_schedule import FoldSpec, Tile, compress_tile, fold_schedule
from suite.errors import UserError

MAX_STEPPED_CYCLES = 300_000


@dataclass(frozen=True)
class SteppedResult:
    total_cycles: int
    compute_cycles: int
    stall_cycles: int
    macs: int
    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int
    ofmap_sram_reads: int
    metadata_sram_bytes: Fraction
    ifmap_dram_bytes: Fraction
    filter_dram_bytes: Fraction
    ofmap_dram_bytes: Fraction
    metadata_dram_bytes: Fraction
    busy_pes: np.ndarray
    output: np.ndarray


def tile_weights(plan: TilePlan, weights: np.ndarray | None, k: int) -> np.ndarray:
    """The weights the tiles hold; without real ones, each tile's pattern filled in full
    (the first n of every group of m non-zero)."""
    if weights is not None:
        return weights
    rows = []
    for size, n, m in zip(plan.filters, plan.n, plan.m, strict=True):
        row = np.zeros(k)
        for start in range(0, k, int(m)):
            row[start:start + min(int(n), k - start)] = 1.0
        rows += [row] * int(size)
    return np.array(rows)


def build_tiles(plan: TilePlan, weights: np.ndarray) -> list[Tile]:
    tiles, start = [], 0
    for size, n, m in zip(plan.filters, plan.n, plan.m, strict=True):
        filters = np.arange(start, start + int(size))
        tiles.append(compress_tile(filters, weights[filters], int(n), int(m)))
        start += int(size)
    return tiles


def _check_size(cfg: HardwareConfig, gemm: Gemm, plan: TilePlan) -> None:
    cycles = int(build_folds(cfg, gemm, plan).cycles.sum())
    if cycles > MAX_STEPPED_CYCLES:
        raise UserError(f"cycle-stepped engine: {cycles} compute cycles; allowed: at most "
                        f"{MAX_STEPPED_CYCLES} (small layers only; the closed form has no limit)")


def step_gemm(cfg: HardwareConfig, gemm: Gemm, plan: TilePlan, weights: np.ndarray | None = None,
              x: np.ndarray | None = None) -> SteppedResult:
    """Run ``gemm`` cycle by cycle with each tile on the pattern ``plan`` chose for it.

    ``weights`` (N x K, zeros where the mask is False) and ``x`` (M x K) default to ones.
    """
    _check_size(cfg, gemm, plan)
    x = np.ones((gemm.m, gemm.k)) if x is None else x
    tiles = build_tiles(plan, tile_weights(plan, weights, gemm.k))
    folds = fold_schedule(cfg, gemm, tiles)
    clock = _Clock(cfg, FoldMemory(cfg, gemm, tiles))
    out = np.zeros((gemm.m, gemm.n))
    counts = clock.run(gemm, folds, x, out)
    return _result(cfg, clock, folds, counts, out)


class _Clock:
    """The global cycle loop: one fold on the array, the DRAM channel beside it."""

    def __init__(self, cfg: HardwareConfig, memory: FoldMemory):
        self.cfg, self.memory = cfg, memory
        self.channel = DramChannel(cfg.dram_bandwidth_bytes_per_cycle, cfg.dram_latency_cycles)
        self.now, self.busy, self.fold_cycles = 0, [], 0

    def _tick(self, busy: int) -> None:
        self.busy.append(busy)
        self.channel.step(self.now)
        self.now += 1

    def _wait(self) -> None:
        while not self.channel.idle(self.now):
            self._tick(0)

    def _compute(self, fold_run) -> FoldCounts:
        """Step the fold until it is done and the channel idle; stall cycles count 0 busy."""
        counts = None
        while True:
            if counts is None:
                try:
                    busy = next(fold_run)
                    self.fold_cycles += 1
                except StopIteration as done:
                    counts = done.value
                    continue
            elif self.channel.idle(self.now):
                return counts
            self._tick(busy if counts is None else 0)

    def run(self, gemm: Gemm, folds: list[FoldSpec], x, out) -> list[FoldCounts]:
        self.channel.request(self.memory.fetch(folds[0]), read=True)
        self._wait()
        counts = []
        for i, fold in enumerate(folds):
            if i > 0:
                self.channel.request(self.memory.write_back(folds[i - 1]), read=False)
            if i + 1 < len(folds):
                self.channel.request(self.memory.fetch(folds[i + 1]), read=True)
            fold_counts = self._compute(run_fold(self.cfg, fold, x, out))
            needed = fold_ifmap_words(self.cfg, gemm, fold).sum()
            assert fold_counts.ifmap_reads == needed, "the PEs read a word not fetched"
            counts.append(fold_counts)
        self.channel.request(self.memory.write_back(folds[-1]), read=False)
        self._wait()
        return counts


def _result(cfg: HardwareConfig, clock: _Clock, folds: list[FoldSpec],
            counts: list[FoldCounts], out: np.ndarray) -> SteppedResult:
    totals = clock.memory.totals
    meta = sum((Fraction(c.filter_reads * cfg.metadata_bits, 8)
                for f, c in zip(folds, counts, strict=True) if f.tile.sparse), Fraction(0))
    return SteppedResult(
        clock.now - 1, clock.fold_cycles - 1, clock.now - clock.fold_cycles,
        sum(c.macs for c in counts), sum(c.ifmap_reads for c in counts),
        sum(c.filter_reads for c in counts), sum(c.ofmap_writes for c in counts),
        sum(c.ofmap_reads for c in counts), meta, totals["ifmap"], totals["filter"],
        totals["ofmap"], totals["meta"], np.array(clock.busy, dtype=np.int64), out)
