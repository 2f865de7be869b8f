"""Ready-to-run loops of our CPU kernels, one per (format, path), and the choice of path.

Each ``*_path(fmt, n_cols, mode)`` builds untimed buffers and returns a ``Path``: ``run(x)``
(writes and returns one reused output), the FLOPs it executes and the format bytes it
reads. Paths (FLOPs per call; bytes are the format's plus x and out once):

- ``expand``  bitmap, N <= 16 per pass: 2 M Kp N (every lane of every chunk)
- ``gather``  N = 1, N:M or CSR indices: 2 stored
- ``permute`` N = 1, sparse N:M on AVX-512: 2 stored
- ``tiled``   any N: 2 stored T tiles (T = the packed tile width, padding included)

``nm_path_name`` picks the N:M path from the shape: at N = 1 and n/m <= 1/4, permute
(m/n in 2..8; on AVX2 also at 2:4) or gather (their cost follows the kept values: ~5 and ~14 cycles
per 16 here), else expand (~2.5-3.5 cycles per 16 positions, any density); for small N expand while N <= EXPAND_MAX_COLS and n/m > 1/4;
otherwise tiled. The thresholds are the crossovers measured in docs/kernels-spmm.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kernels.spmm import vec_modes as lv
from kernels.spmm.formats_sparse import PAD

EXPAND_MAX_COLS = 8  # above, the tiled broadcast path does fewer FLOPs than dense lanes


@dataclass
class Path:
    run: Callable[[np.ndarray], np.ndarray]
    flops: float
    format_bytes: int
    info: dict = field(default_factory=dict)


def lanes(mode: int, dtype) -> int:
    return lv.VECTOR_BYTES[mode] // np.dtype(dtype).itemsize


def nm_path_name(n: int, m: int, n_cols: int, mode: int, dtype) -> str:
    sparse = 4 * n <= m
    if n_cols == 1:
        from kernels.spmm.decode_permute import permute_plan
        fits = permute_plan(n, m, lanes(mode, dtype), mode) is not None
        if fits and (sparse or (mode == lv.MODE_AVX2 and np.dtype(dtype).itemsize == 4)):
            return "permute"  # AVX2: also at 2:4, where its table-driven expand is slow
        return "gather" if sparse and lanes(mode, dtype) % n == 0 else "expand"
    if n_cols <= EXPAND_MAX_COLS and not sparse:
        return "expand"
    return "tiled"


def _flat(arr: np.ndarray) -> np.ndarray:
    out = np.zeros(arr.size + PAD, dtype=arr.dtype)
    out[:arr.size] = arr.ravel()
    return out


def expand_path(bm, n_cols: int, mode: int) -> Path:
    from kernels.spmm import decode_expand as de
    from kernels.spmm.tiled import aligned_zeros
    dtype, m_rows = bm.values.dtype, bm.shape[0]
    width = lanes(mode, dtype)
    n_chunks = bm.padded_k // width
    # one spare vector per row of x^T: rows a multiple of 4 KiB apart share L1 sets
    xt = aligned_zeros((n_cols, bm.padded_k + width), dtype)
    out = np.empty((m_rows, n_cols), dtype=dtype)
    table = de.expand_table(dtype.itemsize)
    step = de.max_tokens(mode)
    passes = [(t0, min(step, n_cols - t0)) for t0 in range(0, n_cols, step)]
    ahead = de.PREFETCH_LINES if n_cols == 1 else 0
    plan = [(t0, lv.static(mode, t, ahead), de.chunks_per_block(mode, t)) for t0, t in passes]

    def run(x):
        de.transpose_into(x, xt)
        for t0, cfg, chunks in plan:
            de.bitmap_spmm(bm.values, bm.rowptr, bm.bits, n_chunks, chunks, xt[t0:], out, t0,
                           table, cfg)
        return out

    flops = 2.0 * m_rows * n_chunks * width * n_cols
    return Path(run, flops, bm.format_bytes, {"path": "expand", "passes": len(passes)})


def gather_nm_path(nm, mode: int) -> Path:
    from kernels.spmm import decode_gather as dg
    dtype, (m_rows, k) = nm.values.dtype, nm.shape
    offsets, step = dg.nm_lane_offsets(nm.n, nm.m, lanes(mode, dtype))
    values, idx = _flat(nm.values), _flat(nm.indices)
    x_pad = np.zeros(nm.groups * nm.m, dtype=dtype)  # padded groups read zeros
    out = np.empty((m_rows, 1), dtype=dtype)
    slots, cfg = nm.groups * nm.n, lv.static(mode, dg.PREFETCH_LINES)

    def run(x):
        x_pad[:k] = x[:, 0]
        dg.nm_gemv(values, idx, slots, x_pad, out, offsets, step, cfg)
        return out

    return Path(run, 2.0 * m_rows * slots, nm.format_bytes, {"path": "gather"})


def permute_nm_path(nm, mode: int) -> Path:
    from kernels.spmm import decode_permute as dp
    dtype, (m_rows, k) = nm.values.dtype, nm.shape
    width = lanes(mode, dtype)
    offsets = dp.permute_plan(nm.n, nm.m, width, mode)
    values, idx = _flat(nm.values), _flat(nm.indices)
    slots = nm.groups * nm.n
    steps = -(-slots // width)
    x_pad = np.zeros(steps * width * nm.m // nm.n + width, dtype=dtype)
    out = np.empty((m_rows, 1), dtype=dtype)
    cfg = lv.static(nm.n, nm.m, mode, dp.PREFETCH_LINES)

    def run(x):
        x_pad[:k] = x[:, 0]
        dp.nm_gemv_permute(values, idx, slots, x_pad, out, offsets, cfg)
        return out

    return Path(run, 2.0 * m_rows * slots, nm.format_bytes, {"path": "permute"})


def gather_csr_path(csr, mode: int) -> Path:
    from kernels.spmm import decode_gather as dg
    dtype, (m_rows, k) = csr.values.dtype, csr.shape
    zeros = np.zeros(lanes(mode, dtype), dtype=np.int32)
    x_col = np.empty(k, dtype=dtype)
    out = np.empty((m_rows, 1), dtype=dtype)
    cfg = lv.static(mode, dg.PREFETCH_LINES)

    def run(x):
        x_col[:] = x[:, 0]
        dg.csr_gemv(csr.values, csr.indices, csr.rowptr, x_col, out, zeros, cfg)
        return out

    return Path(run, 2.0 * csr.nnz, csr.format_bytes, {"path": "gather"})


def tiled_nm_path(nm, n_cols: int, mode: int) -> Path:
    from kernels.spmm import tiled
    dtype, m_rows = nm.values.dtype, nm.shape[0]
    n_tiles, n_vec, tile = tiled.geometry(n_cols, dtype.itemsize, mode)
    rows_k, rows = tiled.blocking(nm.groups * nm.m, tile, dtype.itemsize, mode)
    block_groups = max(1, min(rows_k // nm.m, nm.groups))
    values, idx = tiled.nm_blocks(nm.values, nm.indices, nm.n, block_groups)
    x_rows = values.shape[0] * block_groups * nm.m
    x_packed, acc = tiled.workspace(m_rows, x_rows, n_cols, dtype, mode, rows)
    out = np.empty((m_rows, n_cols), dtype=dtype)
    cfg = lv.static(n_vec, nm.n, nm.m, mode)

    def run(x):
        tiled.nm_tiled(values, idx, np.ascontiguousarray(x), x_packed, out, acc, cfg)
        return out

    flops = 2.0 * nm.values.size * tile * n_tiles
    return Path(run, flops, nm.format_bytes, {"path": "tiled", "tile_cols": tile})


def tiled_csr_path(csr, n_cols: int, mode: int) -> Path:
    from kernels.spmm import tiled
    dtype, (m_rows, k) = csr.values.dtype, csr.shape
    n_tiles, n_vec, tile = tiled.geometry(n_cols, dtype.itemsize, mode)
    rows_k, rows = tiled.blocking(k, tile, dtype.itemsize, mode)
    splits = csr.k_splits(rows_k)
    x_packed, acc = tiled.workspace(m_rows, k, n_cols, dtype, mode, rows)
    out = np.empty((m_rows, n_cols), dtype=dtype)
    cfg = lv.static(n_vec, mode)

    def run(x):
        tiled.csr_tiled(csr.values, csr.indices, csr.rowptr, splits, np.ascontiguousarray(x),
                        x_packed, out, acc, cfg)
        return out

    flops = 2.0 * csr.nnz * tile * n_tiles
    return Path(run, flops, csr.format_bytes + int(splits.nbytes),
                {"path": "tiled", "tile_cols": tile})
