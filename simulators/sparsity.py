"""Which N:M pattern each weight tile runs with, and the compressed form the PEs hold.

Entry points: ``plan_tiles(support, ...)`` picks, per tile of filters that share one fold
schedule, the supported pattern with the shortest compressed K (``compressed_k``: N slots per
full group of M, and ``min(K mod M, N)`` for a last, partial group); a tile no supported
pattern covers falls back to dense, as real hardware must. ``nm_matmul`` uses
the values + in-group indices the PEs hold (``kernels.spmm.formats.NMMatrix``, the same N:M
format the real kernels run) for the functional output.
Masks are ``(filters, K)``: one row per output feature, N:M groups run along K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernels.spmm.formats import NMMatrix, nm_decompress
from simulators.hw_config import SparsitySupport

DENSE = (1, 1)  # a dense tile: every "group" of one weight keeps its one weight


def compressed_k(k: int, n, m: int):
    """Slots an n:m tile of reduction length ``k`` occupies: n per full group of m, and
    ``min(k mod m, n)`` for a last, partial group (it holds no more weights than that).
    ``n`` may be an array (flexible hardware reads it off each tile)."""
    return (k // m) * n + np.minimum(k % m, n)


@dataclass(frozen=True)
class TilePlan:
    """Per tile: filters in it, chosen (n, m) (``(1, 1)`` = dense), compressed K, fallback."""

    filters: np.ndarray
    n: np.ndarray
    m: np.ndarray
    k_compressed: np.ndarray
    fallback: np.ndarray

    @property
    def sparse(self) -> np.ndarray:
        return self.m > 1

    @property
    def fallback_fraction(self) -> float:
        """Share of tiles that had zeros but ran dense: no supported pattern covered them."""
        return float(self.fallback.mean()) if self.fallback.size else 0.0

    def pattern_counts(self) -> dict[str, int]:
        labels = ["dense" if m == 1 else f"{n}:{m}" for n, m in zip(self.n, self.m, strict=True)]
        return {label: labels.count(label) for label in sorted(set(labels))}


def plan_tiles(support: SparsitySupport, k: int, filters: int, tile_filters: int,
               mask: np.ndarray | None = None, nm: tuple[int, int] | None = None) -> TilePlan:
    """Choose each tile's pattern from the real ``mask`` or, without one, an exact ``nm``."""
    sizes = _tile_sizes(filters, tile_filters)
    tiles = sizes.size
    best_n, best_m = np.ones(tiles, dtype=np.int64), np.ones(tiles, dtype=np.int64)
    best_k = np.full(tiles, k, dtype=np.int64)
    has_zeros = np.full(tiles, nm is not None and nm[0] < nm[1])
    if mask is not None:
        has_zeros = _tile_max(~mask, sizes, axis_len=k) > 0
    for n_fixed, m in support.candidates():
        need = _required_n(mask, nm, m, k, sizes)
        n = np.maximum(need, 1) if n_fixed == 0 else np.full(tiles, n_fixed)
        ok = need <= n
        k_c = compressed_k(k, n, m)
        better = ok & (k_c < best_k)
        best_n, best_m = np.where(better, n, best_n), np.where(better, m, best_m)
        best_k = np.where(better, k_c, best_k)
    fallback = (best_m == 1) & has_zeros & (support.mode != "dense")
    return TilePlan(sizes, best_n, best_m, best_k, fallback)


def _tile_sizes(filters: int, tile_filters: int) -> np.ndarray:
    full, rest = divmod(filters, tile_filters)
    return np.array([tile_filters] * full + ([rest] if rest else []), dtype=np.int64)


def _required_n(mask, nm, m: int, k: int, sizes: np.ndarray) -> np.ndarray:
    """Largest non-zero count of any aligned group of ``m`` along K, per tile."""
    if mask is None:
        return np.full(sizes.size, _worst_case_count(nm, m) if nm else m)
    groups = math.ceil(k / m)
    padded = np.zeros((mask.shape[0], groups * m), dtype=np.int32)
    padded[:, :k] = mask
    counts = padded.reshape(mask.shape[0], groups, m).sum(axis=2).max(axis=1)
    return _tile_max(counts[:, None], sizes, axis_len=1)


def _tile_max(values: np.ndarray, sizes: np.ndarray, axis_len: int) -> np.ndarray:
    per_filter = values.reshape(values.shape[0], -1).max(axis=1) if axis_len else values
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return np.maximum.reduceat(per_filter.astype(np.int64), starts)


def _worst_case_count(nm: tuple[int, int], m: int) -> int:
    """Most non-zeros an aligned group of ``m`` can hold in a matrix that is exactly n:m0."""
    n0, m0 = nm
    if m % m0 == 0:
        return n0 * (m // m0)
    if m0 % m == 0:
        return min(n0, m)
    return min(m, n0 * (math.ceil((m - 1) / m0) + 1))


def nm_matmul(nm: NMMatrix, x: np.ndarray) -> np.ndarray:
    """``W @ x`` from the compressed form: the values scattered back to the positions their
    indices name, then one float64 GEMM (a value lost in compression shows in the output).
    A gather of x per stored value said the same ~40x slower and dominated quick runs."""
    return nm_decompress(nm).astype(np.float64) @ np.asarray(x, dtype=np.float64)
