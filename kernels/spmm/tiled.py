"""The tiled SpMM loops (large N, and the broadcast path of decode): N:M and CSR.

Entries: ``nm_tiled(values, idx, x, x_packed, out, acc, block_groups, cfg)`` and
``csr_tiled(values, cols, rowptr, splits, x, x_packed, out, acc, cfg)``, both
``out = W @ x`` in place; buffers from ``workspace``; ``cfg`` = ``llvm_vec.static(...)``.

Shape of the loop (numbers in docs/kernels-spmm.md):

* x is cut into column tiles of T = n_vec * L values (``geometry``: 128 float32 on
  AVX-512, 96 on AVX2; narrower when N is small);
* a task is (tile, block of output rows: ``blocking``), tasks in tile-major order;
  each worker (one per thread) takes a contiguous run of tasks and packs the tile it is on
  into its own buffer (contiguous 64-byte aligned rows of T values, zero padded: rows past
  K for N:M's padded groups, columns past N), so the pack is parallel and stays in that
  core's L2;
* a task walks K in blocks of x rows (``blocking``: a slab of ``SLAB_BYTES`` that stays in
  L1 for wide tiles, all of K for narrow ones) while every row of the task applies its
  kept values of that block (``micro_tile``) to the worker's accumulator block, stored to
  ``out`` at the end.

FLOPs: 2 * stored values * T * tiles (padded slots and columns included); bytes: the
format (values + indices) once per tile, x once, out once.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import literally, prange

from kernels import jit_cache
from kernels.spmm import llvm_vec as lv
from kernels.spmm.micro_tile import MAX_VECTORS, tile_abs, tile_nm

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

ROWS_PER_TASK = 256   # output rows that reuse one slab of x
NARROW_ROWS_PER_TASK = 64  # narrow tiles (<= 2 vectors, decode) walk all of K per row
NARROW_X_BYTES = 1 << 20   # ... while x (K x T) fits in half the 2 MiB L2
LANE_TAB = np.repeat(np.arange(16, dtype=np.int32), 16).reshape(16, 16)  # micro_tile.tile_nm
SLAB_BYTES = {lv.MODE_AVX512: 32 * 1024, lv.MODE_AVX2: 16 * 1024, lv.MODE_GENERIC: 16 * 1024}


def geometry(n_cols: int, itemsize: int, mode: int) -> tuple[int, int, int]:
    """(tiles, vectors per tile, tile width T) covering N columns with the least padding."""
    lanes = lv.VECTOR_BYTES[mode] // itemsize
    widest = MAX_VECTORS[mode] * lanes
    tiles = -(-n_cols // widest)
    per_tile = -(-n_cols // tiles)
    n_vec = -(-per_tile // lanes)
    return tiles, n_vec, n_vec * lanes


def blocking(k: int, tile: int, itemsize: int, mode: int) -> tuple[int, int]:
    """(x rows per K block, output rows per task). Wide tiles: a slab of SLAB_BYTES that
    stays in L1 while ROWS_PER_TASK rows apply their values. Narrow tiles (decode; one
    x row is 1-2 cache lines): all of K at once, each row streaming its values start to
    end with the accumulators in registers, x from L2 (measured faster and steadier than
    L1 slabs, whose many short per-row streams the prefetchers lose; docs/kernels-spmm.md)."""
    if tile * itemsize <= 2 * lv.VECTOR_BYTES[mode] and k * tile * itemsize <= NARROW_X_BYTES:
        return max(k, 1), NARROW_ROWS_PER_TASK
    return max(8, SLAB_BYTES[mode] // (tile * itemsize)), ROWS_PER_TASK


def aligned_zeros(shape, dtype) -> np.ndarray:
    """Zeroed C array whose data starts on a 64-byte boundary (no split vector loads)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    raw = np.zeros(count * dtype.itemsize + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def workspace(m: int, x_rows: int, n_cols: int, dtype, mode: int, rows: int = ROWS_PER_TASK,
              workers: int | None = None):
    """Per worker: a packed tile of x (x_rows x T) and an accumulator block of ``rows``."""
    _, _, tile = geometry(n_cols, np.dtype(dtype).itemsize, mode)
    workers = workers or nb.config.NUMBA_NUM_THREADS
    x_packed = aligned_zeros((workers, x_rows, tile), dtype)
    acc = aligned_zeros((workers, min(rows, m), tile), dtype)
    return x_packed, acc


@nb.njit(fastmath=True, cache=True)
def _pack_tile(x, dst, j0):
    """dst[k, :w] = x[k, j0 : j0 + w]; the rest of dst's rows (padding) stays as it is (zero)."""
    k_rows, n_cols = x.shape
    width = min(dst.shape[1], n_cols - j0)
    for k in range(k_rows):
        out = dst[k]
        src = x[k]
        for j in range(width):
            out[j] = src[j0 + j]
        for j in range(width, dst.shape[1]):
            out[j] = 0


def nm_blocks(values: np.ndarray, indices: np.ndarray, n: int, block_groups: int):
    """The N:M arrays re-laid by K block, (blocks, M, block_groups * n), zero padded to
    whole blocks: a task's rows then read one contiguous stream per block instead of one
    short stream per row (rows 4 KiB apart at 2048 x 2048 2:4 lose the prefetchers)."""
    rows, slots = values.shape
    blocks = max(1, -(-(slots // n) // block_groups))
    width = block_groups * n
    out = []
    for arr in (values, indices):
        padded = np.zeros((rows, blocks * width), dtype=arr.dtype)
        padded[:, :slots] = arr
        out.append(np.ascontiguousarray(padded.reshape(rows, blocks, width).transpose(1, 0, 2)))
    return out[0], out[1]


@nb.njit(fastmath=True, cache=True)
def _store(acc, out, r0, r1, j0):
    width = min(acc.shape[1], out.shape[1] - j0)
    for i in range(r0, r1):
        dst = out[i]
        src = acc[i - r0]
        for j in range(width):
            dst[j0 + j] = src[j]


@nb.njit(parallel=True, fastmath=True, cache=True)
def _nm_tasks(values, idx, x, x_packed, out, acc, n_vec, n, m, mode):
    literally(n_vec)
    literally(n)
    literally(m)
    literally(mode)
    n_kb, m_rows, groups = values.shape[0], values.shape[1], values.shape[2] // n
    workers, tile, rows = x_packed.shape[0], x_packed.shape[2], acc.shape[1]
    n_blocks = -(-m_rows // rows)
    n_tasks = n_blocks * -(-out.shape[1] // tile)
    for w in prange(workers):
        slab, block, packed = x_packed[w], acc[w], -1
        for task in range(w * n_tasks // workers, (w + 1) * n_tasks // workers):
            r0 = (task % n_blocks) * rows
            r1 = min(r0 + rows, m_rows)
            t = task // n_blocks
            if t != packed:  # this worker's tasks are tile-major: one pack per tile it visits
                _pack_tile(x, slab, t * tile)
                packed = t
            block[:, :] = 0
            for b in range(n_kb):
                tile_nm(slab[b * groups * m:], values[b], idx[b], 0, groups, r0, r1, block,
                        LANE_TAB, n_vec, n, m, mode)
            _store(block, out, r0, r1, t * tile)


@nb.njit(fastmath=True, cache=True)
def nm_tiled(values, idx, x, x_packed, out, acc, cfg):
    """out = W @ x, W in N:M form laid out by K block (``nm_blocks``: values/idx
    blocks x M x groups-per-block*n); ``cfg`` = ``static(n_vec, n, m, mode)``;
    ``x_packed`` rows: blocks * groups-per-block * m (padded groups read zeros)."""
    _nm_tasks(values, idx, x, x_packed, out, acc, lv.literal_of(cfg[0]),
              lv.literal_of(cfg[1]), lv.literal_of(cfg[2]), lv.literal_of(cfg[3]))


@nb.njit(parallel=True, fastmath=True, cache=True)
def _csr_tasks(values, cols, rowptr, splits, x, x_packed, out, acc, n_vec, mode):
    literally(n_vec)
    literally(mode)
    m_rows, n_kb = out.shape[0], splits.shape[1] - 1
    workers, tile, rows = x_packed.shape[0], x_packed.shape[2], acc.shape[1]
    n_blocks = -(-m_rows // rows)
    n_tasks = n_blocks * -(-out.shape[1] // tile)
    for w in prange(workers):
        slab, block, packed = x_packed[w], acc[w], -1
        starts = np.empty(rows, np.int64)
        ends = np.empty(rows, np.int64)
        for task in range(w * n_tasks // workers, (w + 1) * n_tasks // workers):
            r0 = (task % n_blocks) * rows
            r1 = min(r0 + rows, m_rows)
            t = task // n_blocks
            if t != packed:
                _pack_tile(x, slab, t * tile)
                packed = t
            block[:, :] = 0
            for b in range(n_kb):
                for i in range(r0, r1):
                    starts[i - r0] = rowptr[i] + splits[i, b]
                    ends[i - r0] = rowptr[i] + splits[i, b + 1]
                tile_abs(slab, values, cols, starts, ends, 0, r1 - r0, block, LANE_TAB, n_vec,
                         mode)
            _store(block, out, r0, r1, t * tile)


@nb.njit(fastmath=True, cache=True)
def csr_tiled(values, cols, rowptr, splits, x, x_packed, out, acc, cfg):
    """out = W @ x, W in CSR with per-row K-block ``splits``; ``cfg`` = ``static(n_vec, mode)``."""
    _csr_tasks(values, cols, rowptr, splits, x, x_packed, out, acc, lv.literal_of(cfg[0]),
               lv.literal_of(cfg[1]))
