"""Exact top-k of a row of float32 scores in O(n): sampled floor, then radix select (numba).

``np.partition`` in numba costs about 50 ns per element here (441 us for a row of 8192).
Here each score maps to an unsigned 32-bit key that orders like the float (``order_key``:
flip the sign bit of positives, all bits of negatives). A strided sample of 256 keys sets
a floor that about 1.3 k keys reach; one pass keeps the candidates at or above it (their
positions ascending), and the k-th largest candidate is found digit by digit, four 8-bit
digits, with a 256-counter histogram per pass (clearing and scanning it is cheap next to
the ~1.3 k candidates). If the floor kept
fewer than k, every key is a candidate (exact either way). The kept set is every key
above the k-th plus, among keys equal to it, the lowest positions (ties: the lower key,
as a stable sort). Main entry: ``top_k_keys(x, n, k, out, keys, hist) -> count`` (``keys``: n uint32
scratch, ``hist``: 256 int64 scratch; ``out`` gets ascending positions).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from kernels.attention.cpu_tiles import float_bits

HIST_BINS = 256
SIGN = np.uint32(0x80000000)
SAMPLE = 256   # strided sample that sets the candidate floor
SLACK = 1.3    # the floor aims at SLACK * k candidates


@nb.njit(inline="always", cache=True)
def order_key(x):
    """uint32 key with key(a) < key(b) exactly when a < b (finite floats; -0 == +0)."""
    bits = np.uint32(float_bits(x))
    if bits == SIGN:  # -0.0 ties with +0.0, as the comparison does
        bits = np.uint32(0)
    return ~bits if bits & SIGN else bits | SIGN


@nb.njit(cache=True)
def _find(hist, size, need):
    """The bin (from the top) holding the need-th largest, and the need left inside it."""
    total = 0
    for b in range(size - 1, -1, -1):
        if total + hist[b] >= need:
            return b, need - total
        total += hist[b]
    return 0, need


@nb.njit(cache=True)
def kth_key(keys, n, k, hist):
    """The k-th largest of keys[:n] (1 <= k <= n), and how many keys equal to it are
    among the k largest: four 8-bit digits, each pass counting only the keys that share
    the digits found so far."""
    prefix = np.uint32(0)
    need = k
    for digit in range(4):
        shift = np.uint32(24 - 8 * digit)
        hist[:] = 0
        for j in range(n):
            key = keys[j]
            if digit == 0 or (key >> (shift + np.uint32(8))) == prefix:
                hist[(key >> shift) & np.uint32(0xFF)] += 1
        found, need = _find(hist, HIST_BINS, need)
        prefix = (prefix << np.uint32(8)) | np.uint32(found)
    return prefix, need


@nb.njit(cache=True)
def _sample_floor(x, n, k):
    """An order key that about SLACK * k of x[:n] reach, from a strided sample."""
    step = n // SAMPLE
    sample = np.empty(SAMPLE, np.uint32)
    for j in range(SAMPLE):
        sample[j] = order_key(x[j * step])
    sample = np.sort(sample)
    rank = min(SAMPLE - 1, int(SLACK * k * SAMPLE / n) + 4)
    return sample[SAMPLE - 1 - rank]


@nb.njit(cache=True)
def _keep(out, keys, m, kth, ties):
    """Filter candidates (positions out[:m], keys[:m], ascending) in place; the count."""
    count = 0
    for j in range(m):
        key = keys[j]
        if key > kth or (key == kth and ties > 0):
            if key == kth:
                ties -= 1
            out[count] = out[j]
            count += 1
    return count


@nb.njit(cache=True)
def top_k_keys(x, n, k, out, keys, hist):
    """Ascending positions of the k largest of x[:n] (ties: lower positions); the count."""
    if k >= n:
        for j in range(n):
            out[j] = j
        return n
    floor = _sample_floor(x, n, k) if n >= 4 * SAMPLE else np.uint32(0)
    m = 0
    for j in range(n):
        key = order_key(x[j])
        if key >= floor:
            out[m] = j
            keys[m] = key
            m += 1
    if m < k:  # the sample over-estimated: take every key
        for j in range(n):
            out[j] = j
            keys[j] = order_key(x[j])
        m = n
    kth, ties = kth_key(keys, m, k, hist)
    return _keep(out, keys, m, kth, ties)
