"""The CPU ``grouped`` MoE kernel: sort once, then expert-parallel tiles of contiguous rows.

Why it beats the per-expert loop on a CPU:
- one stable radix sort of the (token, slot) pairs by expert replaces E boolean scans over
  all T*k pairs and E ``nonzero`` calls;
- rows are processed in tiles of at most ``tile_rows`` rows of one expert, through small
  preallocated scratch buffers that stay in cache (gather, GEMM, activation, GEMM);
- like a GPU grouped GEMM, parallelism is over the tiles of all experts, not inside each
  small GEMM: every GEMM runs single-threaded (multi-threaded BLAS spends more time
  synchronising than computing on T*k/E-row GEMMs, worst on a shared machine) and the tiles
  are split evenly by rows over ``workers`` threads, so a Zipf-heavy expert stays balanced;
- the combine is one fused pass (``cpu_combine``), split over tokens, instead of a
  fancy-index read-modify-write scatter per expert.
numpy releases the GIL inside BLAS and ufunc loops and the numba combine is ``nogil``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kernels.moe.cpu_combine import combine
from kernels.moe.ops import activate, full_routing, id_dtype
from kernels.moe.plans import Plan

TILE_ROWS = 128  # h tile = 128 x h_in floats: a few hundred KiB at the quick-suite sizes
_POOLS: dict[int, ThreadPoolExecutor] = {}


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def make_grouped_cpu(inst, inputs, tile_rows: int = TILE_ROWS, workers: int = 0) -> Plan:
    from threadpoolctl import ThreadpoolController  # scans the loaded libraries: not timed

    blas = ThreadpoolController().select(user_api="blas")
    workers = workers or default_workers()
    idx, weight = full_routing(inputs)
    t, k = idx.shape
    n, pairs, d, dt = inputs.w_in.shape[0], idx.size, inst.d_model, inst.dtype
    flat, w_flat = idx.ravel().astype(id_dtype(n)), weight.ravel()
    scratch = [_Scratch(inst, tile_rows) for _ in range(workers)]
    ys, spare = np.zeros((pairs, d), dt), np.empty((pairs, d), dt)  # finite for the warm-up
    inv, rows, y = np.empty(pairs, np.intp), np.arange(pairs), np.empty((t, d), dt)
    combine(ys, rows, w_flat, k, y, spare)  # compile the combine now, not in a timed call
    cuts = np.linspace(0, t, workers + 1).astype(int).tolist()
    pool = _pool(workers)

    def expert_part(tiles, tokens, s):
        for e, lo, hi in tiles:
            s.ffn(inputs, inst.activation, e, tokens[lo:hi], ys[lo:hi])

    def combine_part(t0, t1):
        combine(ys, inv[t0 * k:t1 * k], w_flat[t0 * k:t1 * k], k, y[t0:t1],
                spare[t0 * k:t1 * k])

    def run():
        order = np.argsort(flat, kind="stable")
        ends = np.cumsum(np.bincount(flat, minlength=n)).tolist()
        tokens = order // k
        shares = _split(_tiles(ends, tile_rows), pairs, workers)
        with blas.limit(limits=1):
            _run_all(pool, [(expert_part, sh, tokens, s) for sh, s in zip(shares, scratch)])
            inv[order] = rows
            _run_all(pool, [(combine_part, t0, t1) for t0, t1 in zip(cuts, cuts[1:])])
        return y

    return Plan(run, 2.0 * d * inst.d_ff * (3 if inst.gated else 2) * pairs)


class _Scratch:
    """One worker's cache-sized buffers for one tile: tokens in, hidden, activated."""

    def __init__(self, inst, tile_rows: int):
        self.xs = np.empty((tile_rows, inst.d_model), inst.dtype)
        self.h = np.empty((tile_rows, inst.h_in), inst.dtype)
        self.a = np.empty((tile_rows, inst.d_ff), inst.dtype)

    def ffn(self, inputs, activation: str, e: int, tokens: np.ndarray, out: np.ndarray):
        m = tokens.size
        np.take(inputs.x, tokens, axis=0, out=self.xs[:m])
        np.matmul(self.xs[:m], inputs.w_in[e], out=self.h[:m])
        activate(np, self.h[:m], activation, self.a[:m])
        np.matmul(self.a[:m], inputs.w_down[e], out=out)


def _tiles(ends: list[int], tile_rows: int) -> list[tuple[int, int, int]]:
    """(expert, first row, end row) tiles covering each expert's contiguous rows."""
    out, lo = [], 0
    for e, hi in enumerate(ends):
        out.extend((e, r, min(r + tile_rows, hi)) for r in range(lo, hi, tile_rows))
        lo = hi
    return out


def _split(tiles: list, pairs: int, workers: int) -> list[list]:
    """Contiguous runs of tiles with about pairs / workers rows each."""
    shares: list[list] = [[] for _ in range(workers)]
    for tile in tiles:
        shares[min(workers - 1, tile[1] * workers // max(pairs, 1))].append(tile)
    return shares


def _run_all(pool: ThreadPoolExecutor, tasks: list[tuple]) -> None:
    """Run ``(fn, *args)`` tasks on the pool, the first on this thread; re-raise errors."""
    futures = [pool.submit(*task) for task in tasks[1:]]
    tasks[0][0](*tasks[0][1:])
    for future in futures:
        future.result()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per size for the process, so repeated prepares do not leak threads."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=max(1, workers - 1),
                                             thread_name_prefix="moe-grouped")
    return _POOLS[workers]
