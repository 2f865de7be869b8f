"""Numba SpMM loops: the N:M kernel (ours) and a parallel CSR loop (a strong baseline).

Imported only when a numba kernel is prepared (``kernels.spmm.cpu``), so start-up never
compiles. Main entries: ``nm_spmm(values, columns, x, out, x_packed, acc)`` and
``csr_spmm(data, indices, indptr, x, out)``; both write ``out`` in place.

Why the N:M loop is shaped this way (measured on a 2-core AVX-512 VM, 1024^3 float32 1:4):
a plain row-parallel axpy over 1-D row views reached 16 useful GFLOP/s because every kept
value pulls a 4 KiB row of x from L2. Here x is first packed into column tiles of
``TILE_COLS`` (contiguous, so a tile's rows do not collide in L1 sets at a 4 KiB stride),
and each task walks K in blocks of ``BLOCK_ROWS_K`` rows of x, so the x slab it reads
(~64 KiB) is reused by ``BLOCK_ROWS_M`` output rows from L1/L2. Kept values are applied four
at a time, so each accumulator row is loaded and stored once per four fused multiply-adds.
That reached ~70 useful GFLOP/s (about 4x the plain loop).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

TILE_COLS = 256     # columns of x per packed tile: one accumulator row is 1 KiB (float32)
BLOCK_ROWS_K = 64   # rows of x per K block: the slab a task re-reads is 64 x 256 values
BLOCK_ROWS_M = 128  # output rows per task: how many rows reuse one x slab


def tile_cols(n_cols: int) -> int:
    """Packed tile width: TILE_COLS, or N rounded up to 16 lanes when N is smaller."""
    return min(TILE_COLS, -(-n_cols // 16) * 16)


def workspace(m: int, k: int, n_cols: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Buffers the N:M kernel reuses across calls: packed x (zero padded) and one
    accumulator block per thread (allocated once at prepare, so calls do not page-fault)."""
    tile = tile_cols(n_cols)
    x_packed = np.zeros((-(-n_cols // tile), k, tile), dtype=dtype)
    acc = np.zeros((nb.config.NUMBA_NUM_THREADS, min(BLOCK_ROWS_M, m), tile), dtype=dtype)
    return x_packed, acc


@nb.njit(parallel=True, fastmath=True, cache=True)
def _pack(x, x_packed):
    """x_packed[t, k, :w] = x[k, t*T : t*T + w]; the padding columns stay zero."""
    n_tiles, k_rows, tile = x_packed.shape
    n_cols = x.shape[1]
    for t in prange(n_tiles):
        j0 = t * tile
        width = min(tile, n_cols - j0)
        for k in range(k_rows):
            dst = x_packed[t, k]
            src = x[k]
            for j in range(width):
                dst[j] = src[j0 + j]


@nb.njit(fastmath=True, cache=True)
def _apply_block(values, columns, x_tile, acc, r0, r1, p0, p1):
    """acc[i - r0] += sum over kept values p0..p1 of row i of value * x_tile[column]."""
    width = acc.shape[1]
    for i in range(r0, r1):
        c = acc[i - r0]
        p = p0
        while p + 4 <= p1:  # four values per pass: one load/store of c per 4 FMAs
            v0, v1, v2, v3 = values[i, p], values[i, p + 1], values[i, p + 2], values[i, p + 3]
            b0, b1 = x_tile[columns[i, p]], x_tile[columns[i, p + 1]]
            b2, b3 = x_tile[columns[i, p + 2]], x_tile[columns[i, p + 3]]
            for j in range(width):
                c[j] += v0 * b0[j] + v1 * b1[j] + v2 * b2[j] + v3 * b3[j]
            p += 4
        while p < p1:
            v0 = values[i, p]
            b0 = x_tile[columns[i, p]]
            for j in range(width):
                c[j] += v0 * b0[j]
            p += 1


@nb.njit(fastmath=True, cache=True)
def _store(acc, out, r0, r1, j0):
    width = min(acc.shape[1], out.shape[1] - j0)
    for i in range(r0, r1):
        dst = out[i]
        src = acc[i - r0]
        for j in range(width):
            dst[j0 + j] = src[j]


@nb.njit(parallel=True, fastmath=True, cache=True)
def nm_spmm(values, columns, x, out, x_packed, acc, n, block_groups):
    """out = W @ x for W in N:M form: ``values``/``columns`` are M x G*n (columns absolute,
    int32, in range); ``block_groups`` groups of m make one K block."""
    _pack(x, x_packed)
    m_rows, slots = values.shape
    n_tiles, tile = x_packed.shape[0], x_packed.shape[2]
    groups = slots // n
    rows_per_task = acc.shape[1]
    n_blocks = -(-m_rows // rows_per_task)
    for task in prange(n_blocks * n_tiles):
        r0 = (task // n_tiles) * rows_per_task
        r1 = min(r0 + rows_per_task, m_rows)
        t = task % n_tiles
        block = acc[nb.get_thread_id()]
        block[:, :] = 0
        for g0 in range(0, groups, block_groups):
            g1 = min(g0 + block_groups, groups)
            _apply_block(values, columns, x_packed[t], block, r0, r1, g0 * n, g1 * n)
        _store(block, out, r0, r1, t * tile)


@nb.njit(parallel=True, fastmath=True, cache=True)
def csr_spmm(data, indices, indptr, x, out):
    """out = A @ x for A in CSR: rows in parallel, an axpy of x rows over 1-D views."""
    n_cols = x.shape[1]
    for i in prange(out.shape[0]):
        c = out[i]
        c[:] = 0
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            b = x[indices[p]]
            for j in range(n_cols):
                c[j] += v * b[j]
