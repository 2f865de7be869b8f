"""The reference engine's memory: SRAM buffers that hold words, and a DRAM channel that moves
bytes one cycle at a time.

Entry points: ``DramChannel(bandwidth, latency)`` (``request``, ``step``, ``idle``) and
``FoldMemory(cfg, gemm, tiles)`` (``fetch(fold)``: bytes to bring in before a fold;
``write_back(fold)``: bytes a fold leaves to write). Words are tracked one by one in
boolean maps, so "resident", "same tile" and "fits" are decided on the words themselves.
Arithmetic is exact (``fractions.Fraction``). Cost: a numpy comparison per fold and a few
Python operations per cycle; small layers only.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import numpy as np

from simulators.hw_config import HardwareConfig
from simulators.mapping import Gemm
from simulators.stepped_schedule import FoldSpec, Tile


class DramChannel:
    """One DRAM channel: ``bandwidth`` bytes leave the queue per cycle, in request order;
    a read's data land ``latency`` cycles after its last byte left."""

    def __init__(self, bandwidth: float, latency: int):
        self.bandwidth, self.latency = Fraction(bandwidth), latency
        self.queue: deque[list] = deque()
        self.landed_at = 0

    def request(self, nbytes: Fraction, read: bool) -> None:
        if nbytes > 0:
            self.queue.append([Fraction(nbytes), read])

    def step(self, now: int) -> None:
        budget = self.bandwidth
        while budget > 0 and self.queue:
            head = self.queue[0]
            moved = min(budget, head[0])
            head[0] -= moved
            budget -= moved
            if head[0] == 0:
                self.queue.popleft()
                if head[1]:
                    self.landed_at = max(self.landed_at, now + 1 + self.latency)

    def idle(self, now: int) -> bool:
        return not self.queue and now >= self.landed_at


def fold_ifmap_words(cfg: HardwareConfig, gemm: Gemm, fold: FoldSpec) -> np.ndarray:
    """(M, K) map of the activations a fold needs: every group one of its slots belongs to."""
    need = np.zeros((gemm.m, gemm.k), dtype=bool)
    rows = {"os": fold.array_rows, "ws": np.arange(gemm.m), "is": fold.array_cols}
    m = fold.tile.m
    for group in np.unique(fold.tile.slot_group[fold.slots]):
        need[rows[cfg.dataflow], group * m:group * m + m] = True
    return need


def fold_filter_words(cfg: HardwareConfig, fold: FoldSpec, shape: tuple) -> np.ndarray:
    """(N, slots) map of the weights a fold needs."""
    need = np.zeros(shape, dtype=bool)
    need[np.ix_(fold.tile.filters, fold.slots)] = True
    return need


class _Buffer:
    """One operand's buffer: resident (words stay once fetched) or streaming (a tile stays
    only while consecutive folds use the same one and it fits in half the buffer)."""

    def __init__(self, shape: tuple, resident: bool, half_bytes: float):
        self.on_chip = np.zeros(shape, dtype=bool)
        self.resident, self.half = resident, Fraction(half_bytes)
        self.previous: np.ndarray | None = None

    def words_to_fetch(self, need: np.ndarray, tile_bytes: Fraction) -> np.ndarray:
        if self.resident:
            new = need & ~self.on_chip
            self.on_chip |= need
            return new
        same = self.previous is not None and np.array_equal(need, self.previous)
        self.previous = need
        return np.zeros_like(need) if same and tile_bytes <= self.half else need


class FoldMemory:
    """Which bytes move between DRAM and the buffers, fold by fold, and their totals."""

    def __init__(self, cfg: HardwareConfig, gemm: Gemm, tiles: list[Tile]):
        self.cfg, self.gemm, self.tiles = cfg, gemm, tiles
        half = {k: v * 512 for k, v in (("ifmap", cfg.ifmap_sram_kib),
                                         ("filter", cfg.filter_sram_kib),
                                         ("ofmap", cfg.ofmap_sram_kib))}
        self.half_ofmap = Fraction(half["ofmap"])
        self.word = cfg.word_bytes
        self.pixel_share = Fraction(gemm.ifmap_unique_words, gemm.m * gemm.k)
        self.filter_shape = (gemm.n, max(t.slots for t in tiles))
        self.meta_of = np.zeros(self.filter_shape, dtype=object)
        for t in tiles:
            self.meta_of[np.ix_(t.filters, np.arange(t.slots))] = Fraction(
                cfg.metadata_bits if t.sparse else 0, 8)
        filter_total = sum(t.slots * len(t.filters) * (self.word + Fraction(
            cfg.metadata_bits if t.sparse else 0, 8)) for t in tiles)
        self.ifmap = _Buffer((gemm.m, gemm.k),
                             gemm.ifmap_unique_words * self.word <= half["ifmap"], half["ifmap"])
        self.filter = _Buffer(self.filter_shape, filter_total <= half["filter"], half["filter"])
        self.totals = {key: Fraction(0) for key in ("ifmap", "filter", "meta", "ofmap")}

    def _ifmap_bytes(self, fold: FoldSpec) -> Fraction:
        need = fold_ifmap_words(self.cfg, self.gemm, fold)
        words = int(self.ifmap.words_to_fetch(need, Fraction(int(need.sum()) * self.word)).sum())
        share = self.pixel_share if self.ifmap.resident else 1
        return words * self.word * share

    def _filter_bytes(self, fold: FoldSpec) -> tuple[Fraction, Fraction]:
        need = fold_filter_words(self.cfg, fold, self.filter_shape)
        meta_need = sum(self.meta_of[need], Fraction(0))
        got = self.filter.words_to_fetch(need, int(need.sum()) * self.word + meta_need)
        return int(got.sum()) * self.word, sum(self.meta_of[got], Fraction(0))

    def out_tile_bytes(self, fold: FoldSpec) -> Fraction:
        rows = len(fold.array_rows) if self.cfg.dataflow == "os" else fold.temporal
        return Fraction(rows * len(fold.array_cols) * self.word)

    def spills(self, fold: FoldSpec) -> bool:
        return self.out_tile_bytes(fold) > self.half_ofmap

    def fetch(self, fold: FoldSpec) -> Fraction:
        """Bytes to read before ``fold`` runs: new operand words and spilled partial sums."""
        ifmap, (values, meta) = self._ifmap_bytes(fold), self._filter_bytes(fold)
        psums = self.out_tile_bytes(fold) if self.spills(fold) and not fold.first_k else 0
        for key, value in (("ifmap", ifmap), ("filter", values), ("meta", meta),
                           ("ofmap", psums)):
            self.totals[key] += value
        return ifmap + values + meta + psums

    def write_back(self, fold: FoldSpec) -> Fraction:
        """Bytes ``fold`` leaves to write: finished outputs, or every fold's when they spill."""
        done = fold.last_k or self.spills(fold)
        written = self.out_tile_bytes(fold) if done else Fraction(0)
        self.totals["ofmap"] += written
        return written
