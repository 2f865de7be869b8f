"""numba pieces every retrieval loop of ours shares: the top-k heap, the dense query, scoring.

The heap keeps the best ``k`` (score, document id) pairs under the family's one tie rule
(score descending, then id ascending); its root is the worst kept pair, so ``theta`` (the
k-th score) is ``scores[0]`` once it is full. Scores are float64: a document's score sums
float32 products in float64, so the safe modes agree with the float64 reference up to
rounding far below float32 resolution. ``scatter``/``clear`` write a query into a dense
vocabulary-sized float64 array (244 KB for BERT's vocabulary: L2-resident) so that
scoring a stored document is a gather: ``dot(indices, values, lo, hi, dense)`` costs one
gather and one FMA per stored non-zero (``dot_half`` for float16 values); loops call
``prefetch_row`` on the next row first, so random rows overlap their cache misses
(measured here: 1.8x faster random-row scoring; float16 values another 1.7x). Imported only when a numba kernel is prepared.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from kernels import jit_cache
from kernels.retrieval.numba_intrinsics import half_to_double, prefetch

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

MARGIN = 1.0 + 1e-9  # upper bounds are inflated by this much: float64 sums in another order


@nb.njit(inline="always", cache=True)
def worse(s1, d1, s2, d2):
    """(s1, d1) ranks below (s2, d2): a lower score, or the same score and a higher id."""
    return s1 < s2 or (s1 == s2 and d1 > d2)


@nb.njit(inline="always", cache=True)
def _swap(hs, hd, i, j):
    hs[i], hs[j] = hs[j], hs[i]
    hd[i], hd[j] = hd[j], hd[i]


@nb.njit(cache=True)
def _sift_down(hs, hd, size):
    i = 0
    while True:
        a, b, low = 2 * i + 1, 2 * i + 2, i
        if a < size and worse(hs[a], hd[a], hs[low], hd[low]):
            low = a
        if b < size and worse(hs[b], hd[b], hs[low], hd[low]):
            low = b
        if low == i:
            return
        _swap(hs, hd, i, low)
        i = low


@nb.njit(cache=True)
def push(hs, hd, size, score, doc):
    """Offer (score, doc) to a heap of ``size`` entries and capacity len(hs); new size."""
    k = len(hs)
    if size < k:
        i = size
        hs[i], hd[i] = score, doc
        while i > 0 and worse(hs[i], hd[i], hs[(i - 1) // 2], hd[(i - 1) // 2]):
            _swap(hs, hd, i, (i - 1) // 2)
            i = (i - 1) // 2
        return size + 1
    if worse(hs[0], hd[0], score, doc):
        hs[0], hd[0] = score, doc
        _sift_down(hs, hd, size)
    return size


@nb.njit(inline="always", cache=True)
def theta(hs, size):
    """The score a document must beat: the k-th best so far, 0 until k are held."""
    return hs[0] if size == len(hs) else 0.0


@nb.njit(cache=True)
def write_sorted(hs, hd, size, out_row):
    """The held pairs best first into ``out_row`` (ids), -1 after them; empties the heap."""
    out_row[:] = -1
    while size > 0:
        out_row[size - 1] = hd[0]
        size -= 1
        hs[0], hd[0] = hs[size], hd[size]
        _sift_down(hs, hd, size)


@nb.njit(cache=True)
def scatter(dense, q_idx, q_val):
    for j in range(len(q_idx)):
        dense[q_idx[j]] = q_val[j]


@nb.njit(cache=True)
def clear(dense, q_idx):
    for j in range(len(q_idx)):
        dense[q_idx[j]] = 0.0


@nb.njit(fastmath=True, inline="always", cache=True)
def dot(indices, values, lo, hi, dense):
    """sum over stored entries lo..hi of values * dense[indices] (float64)."""
    acc = 0.0
    for p in range(lo, hi):
        acc += values[p] * dense[indices[p]]
    return acc


@nb.njit(fastmath=True, inline="always", cache=True)
def dot_half(indices, halves, lo, hi, dense):
    """``dot`` over float16 values stored as their uint16 bits."""
    acc = 0.0
    for p in range(lo, hi):
        acc += half_to_double(halves[p]) * dense[indices[p]]
    return acc


@nb.njit(inline="always", cache=True)
def prefetch_row(indices, values, lo, hi):
    """Start loading one stored row (its ids and values), a cache line at a time."""
    step_i = 64 // indices.itemsize
    for p in range(lo, hi, step_i):
        prefetch(indices, p)
    step_v = 64 // values.itemsize
    for p in range(lo, hi, step_v):
        prefetch(values, p)


@nb.njit(cache=True)
def lower_bound(keys, lo, hi, key):
    """The first position in ``keys[lo:hi]`` (sorted) whose key is not below ``key``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True)
def sift_max(keys, cand, i, m):
    """Restore the max-heap ``cand[:m]`` (positions ordered by ``keys[cand]``) below ``i``:
    the block queues of block-max and Seismic, best block first."""
    while True:
        a, b, top = 2 * i + 1, 2 * i + 2, i
        if a < m and keys[cand[a]] > keys[cand[top]]:
            top = a
        if b < m and keys[cand[b]] > keys[cand[top]]:
            top = b
        if top == i:
            return
        cand[i], cand[top] = cand[top], cand[i]
        i = top


@nb.njit(cache=True)
def order_by_weight(q_val):
    """Positions of the query's entries by weight, heaviest first (ties: lower position)."""
    return np.argsort(-q_val, kind="mergesort")


def chunks(count: int, parts: int) -> np.ndarray:
    """Boundaries splitting ``count`` queries into ``parts`` near-equal contiguous chunks."""
    parts = max(1, min(parts, count))
    return np.linspace(0, count, parts + 1).round().astype(np.int64)
