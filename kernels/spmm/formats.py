"""The N:M compressed format: the layout sparse tensor cores read.

``nm_compress(weight, n, m)`` -> ``NMMatrix``; ``nm_decompress(nm)`` gives the dense matrix
back. Groups of ``m`` consecutive weights along K (the reduction dimension) keep at most
``n`` non-zeros: ``values`` (M x G*n, the weight dtype) holds them in group order and
``indices`` (uint8, same shape) their position 0..m-1 inside the group, G = ceil(K/m).
K that is not a multiple of m is zero padded; a group with fewer than n non-zeros is
padded with explicit zero values (at distinct unused positions, so indices stay unique).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.errors import ParamError

MAX_M = 256  # indices are uint8: one byte of metadata per kept value


@dataclass(frozen=True)
class NMMatrix:
    """An M x K matrix in N:M form; ``values[r, g*n + j]`` sits at column
    ``g*m + indices[r, g*n + j]``."""

    values: np.ndarray
    indices: np.ndarray
    shape: tuple[int, int]
    n: int
    m: int

    @property
    def groups(self) -> int:
        return -(-self.shape[1] // self.m)

    @property
    def format_bytes(self) -> int:
        """Bytes the format stores: values plus one byte of index per kept value."""
        return int(self.values.nbytes + self.indices.nbytes)

    def columns(self) -> np.ndarray:
        """Absolute column of every stored value (int32, M x G*n); padded slots may point
        past K-1 only when their value is zero, so callers clip or pad x."""
        starts = np.repeat(np.arange(self.groups, dtype=np.int32) * self.m, self.n)
        return starts[None, :] + self.indices.astype(np.int32)


def nm_compress(weight: np.ndarray, n: int, m: int) -> NMMatrix:
    """Compress a 2-D ``weight`` whose every group of ``m`` along K has <= ``n`` non-zeros."""
    _check_args(weight, n, m)
    rows, k = weight.shape
    groups = -(-k // m)
    padded = np.zeros((rows, groups * m), dtype=weight.dtype)
    padded[:, :k] = weight
    grouped = padded.reshape(rows, groups, m)
    nonzero = grouped != 0
    counts = nonzero.sum(axis=2)
    if counts.size and counts.max() > n:
        r, g = np.unravel_index(int(np.argmax(counts)), counts.shape)
        raise ParamError("weight", f"row {r}, group {g} has {counts[r, g]} non-zeros",
                         f"at most n={n} non-zeros in every group of m={m} along K")
    # Keep every non-zero plus, where a group is short, its first (n - count) zeros: exactly n
    # positions per group, read back in position order. (A stable argsort said the same
    # 2x slower: seconds of preparing a pruned SmolLM2 for each N:M backend.)
    zero_rank = np.cumsum(~nonzero, axis=2, dtype=np.int32)
    keep = nonzero | (zero_rank <= (n - counts)[:, :, None])
    order = np.nonzero(keep.reshape(-1, m))[1].astype(np.uint8)
    values = grouped[keep]
    return NMMatrix(values.reshape(rows, groups * n), order.reshape(rows, groups * n),
                    (rows, k), n, m)


def nm_decompress(nm: NMMatrix) -> np.ndarray:
    """The dense M x K matrix an ``NMMatrix`` stands for."""
    rows, k = nm.shape
    dense = np.zeros((rows, nm.groups, nm.m), dtype=nm.values.dtype)
    order = nm.indices.reshape(rows, nm.groups, nm.n).astype(np.intp)
    np.put_along_axis(dense, order, nm.values.reshape(rows, nm.groups, nm.n), axis=2)
    return dense.reshape(rows, -1)[:, :k]


def _check_args(weight: np.ndarray, n: int, m: int) -> None:
    if not isinstance(weight, np.ndarray) or weight.ndim != 2:
        raise ParamError("weight", getattr(weight, "shape", type(weight).__name__),
                         "a 2-D numpy array (M x K)")
    if not (isinstance(m, (int, np.integer)) and 1 <= m <= MAX_M):
        raise ParamError("m", m, f"an integer 1..{MAX_M} (indices are uint8)")
    if not (isinstance(n, (int, np.integer)) and 1 <= n <= m):
        raise ParamError("n", n, f"an integer 1..m={m}")
