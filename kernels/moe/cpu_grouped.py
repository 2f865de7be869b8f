"""The CPU ``grouped`` MoE kernel: sort once, then GEMMs on contiguous rows per expert.

What it does differently from the per-expert loop (``kernels.moe.cpu.loop``):
- one stable radix sort of the (token, slot) pairs by expert replaces E boolean scans over
  all T*k pairs and E ``nonzero`` calls;
- rows are processed in chunks of consecutive rows (a huge expert split in several, or
  many small experts in one): one gather and one activation per chunk, two GEMMs per
  expert segment, through preallocated scratch instead of fresh temporaries per expert;
- optionally (``workers``, ``blas_threads``), like a GPU grouped GEMM, parallelism over
  the rows of all experts instead of inside each small GEMM: threads split the sorted rows
  evenly, so a Zipf-heavy expert is shared; off by default (see ``make_grouped_cpu``);
- the combine is one fused pass (``cpu_combine``), split over tokens, instead of a
  fancy-index read-modify-write scatter per expert;
- for float32 SwiGLU experts whose weights fit in L2 (``cpu_small_gemm.supported``) and no
  explicit ``chunk_rows``, the whole expert FFN runs in numba, 6 rows at a time (gather,
  register-blocked GEMMs on the unpacked weights, vector SwiGLU), with the threads' row
  ranges balanced by rows + a per-expert cost; otherwise numpy + BLAS per chunk.
numpy releases the GIL inside BLAS and ufunc loops; the numba FFN and combine are ``nogil``.
"""

from __future__ import annotations

import bisect
import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kernels.moe import cpu_small_gemm as small_gemm
from kernels.moe.cpu_combine import combine
from kernels.moe.ops import activate, full_routing, id_dtype
from kernels.moe.plans import Plan

# Rows per chunk: h (chunk x h_in) about 2 MiB, at least 256 rows. Smaller chunks keep h
# in L2 but re-read a big expert's weights once per chunk, which costs more (measured).
CHUNK_BYTES, MIN_CHUNK_ROWS = 2 * 1024 * 1024, 256
_POOLS: dict[int, ThreadPoolExecutor] = {}


def make_grouped_cpu(inst, inputs, chunk_rows: int = 0, workers: int = 1,
                     blas_threads: int = 0) -> Plan:
    """``workers`` > 1 runs expert-parallel: that many threads over the sorted rows, best
    with ``blas_threads=1`` (single-threaded GEMMs); the default, one thread with the BLAS
    library's own threading, measured fastest on a 2-core machine that others share."""
    from threadpoolctl import ThreadpoolController  # scans the loaded libraries: not timed

    chunk_given = bool(chunk_rows)
    blas = ThreadpoolController().select(user_api="blas")
    limit = blas.limit if blas_threads else _no_limit
    chunk_rows = chunk_rows or max(MIN_CHUNK_ROWS, CHUNK_BYTES // (inst.h_in * inst.dtype.itemsize))
    idx, weight = full_routing(inputs)
    t, k = idx.shape
    n, pairs, d, dt = inputs.w_in.shape[0], idx.size, inst.d_model, inst.dtype
    flat, w_flat = idx.ravel().astype(id_dtype(n)), weight.ravel()
    scratch = [_Scratch(inst, min(chunk_rows, pairs)) for _ in range(workers)]
    ys, spare = np.zeros((pairs, d), dt), np.empty((pairs, d), dt)  # finite for the warm-up
    inv, rows, y = np.empty(pairs, np.intp), np.arange(pairs), np.empty((t, d), dt)
    combine(ys, rows, w_flat, k, y, spare)  # compile the combine now, not in a timed call
    row_cuts = np.linspace(0, pairs, workers + 1).astype(int).tolist()
    token_cuts = np.linspace(0, t, workers + 1).astype(int).tolist()
    pool = _pool(workers) if workers > 1 else None
    fused = not chunk_given and small_gemm.supported(inst)
    if fused:  # compile now, not in a timed call
        small_gemm.expert_ffn(inputs.x, np.zeros(1, np.intp), inputs.w_in, inputs.w_down,
                              np.array([[0, 0, 1]], np.int64), ys, scratch[0].xs,
                              scratch[0].h, scratch[0].a)

    def expert_part(lo, hi, s, tokens, ends):
        if fused:  # whole FFN per block of MR rows, in numba (cpu_small_gemm)
            small_gemm.expert_ffn(inputs.x, tokens, inputs.w_in, inputs.w_down,
                                  _segments(ends, lo, hi), ys, s.xs, s.h, s.a)
            return
        for c0, c1, segments in _chunks(ends, lo, hi, s.rows):
            s.ffn(inputs, inst.activation, tokens[c0:c1], c0, segments, ys[c0:c1])

    def combine_part(t0, t1):
        combine(ys, inv[t0 * k:t1 * k], w_flat[t0 * k:t1 * k], k, y[t0:t1],
                spare[t0 * k:t1 * k])

    def run():
        order = np.argsort(flat, kind="stable")
        ends = np.cumsum(np.bincount(flat, minlength=n)).tolist()
        tokens = order // k
        cuts = _balanced_cuts(ends, workers) if fused else row_cuts
        with limit(limits=blas_threads):
            _run_all(pool, [(expert_part, lo, hi, s, tokens, ends)
                            for lo, hi, s in zip(cuts, cuts[1:], scratch, strict=False)])
            inv[order] = rows
            _run_all(pool, [(combine_part, t0, t1)
                            for t0, t1 in zip(token_cuts, token_cuts[1:], strict=False)])
        return y

    return Plan(run, 2.0 * d * inst.d_ff * (3 if inst.gated else 2) * pairs)


@contextlib.contextmanager
def _no_limit(limits):
    yield


class _Scratch:
    """One worker's cache-sized buffers for one chunk: tokens in, hidden, activated."""

    def __init__(self, inst, rows: int):
        self.rows = max(rows, 1)
        alloc = max(self.rows, small_gemm.MR)  # the fused path works in blocks of MR rows
        self.xs = np.empty((alloc, inst.d_model), inst.dtype)
        self.h = np.empty((alloc, inst.h_in), inst.dtype)
        self.a = np.empty((alloc, inst.d_ff), inst.dtype)

    def ffn(self, inputs, activation, tokens, c0, segments, out) -> None:
        """FFN of sorted rows c0..c0+len(tokens): each segment with its expert's weights."""
        m = tokens.size
        np.take(inputs.x, tokens, axis=0, out=self.xs[:m])
        for e, a0, a1 in segments:
            np.matmul(self.xs[a0 - c0:a1 - c0], inputs.w_in[e], out=self.h[a0 - c0:a1 - c0])
        activate(np, self.h[:m], activation, self.a[:m])
        for e, a0, a1 in segments:
            np.matmul(self.a[a0 - c0:a1 - c0], inputs.w_down[e], out=out[a0 - c0:a1 - c0])


# Cost of touching an expert (loading its weights) in rows' worth of compute, for the split
# of the fused path's work between threads (measured d256: ~25 us of weights vs ~2.5 us/row).
EXPERT_COST_ROWS = 10


def _balanced_cuts(ends: list[int], workers: int) -> list[int]:
    """Row cuts giving each worker about the same cost: rows + EXPERT_COST_ROWS per
    expert started; a cut inside an expert falls on a multiple of the fused block rows."""
    cost, starts, prev = [0.0], [], 0
    for end in ends:
        if end > prev:
            starts.append(prev)
            cost.append(cost[-1] + EXPERT_COST_ROWS + end - prev)
        prev = end
    cuts = [0]
    for w in range(1, workers):
        target = cost[-1] * w / workers
        i = max(bisect.bisect_left(cost, target) - 1, 0)  # the expert the target falls in
        if i >= len(starts):
            cuts.append(ends[-1])
            continue
        a0 = starts[i]
        a1 = starts[i + 1] if i + 1 < len(starts) else ends[-1]
        inside = max(0.0, target - cost[i] - EXPERT_COST_ROWS)
        r = a0 + int(round(inside / small_gemm.MR)) * small_gemm.MR
        cuts.append(min(max(r, a0, cuts[-1]), a1))
    cuts.append(ends[-1] if ends else 0)
    return cuts


def _segments(ends: list[int], lo: int, hi: int) -> np.ndarray:
    """(expert, a0, a1) for every expert with rows in lo..hi, clipped to it (int64, S x 3)."""
    out, e = [], bisect.bisect_right(ends, lo)
    while e < len(ends) and (ends[e - 1] if e else 0) < hi:
        a0, a1 = max(ends[e - 1] if e else 0, lo), min(ends[e], hi)
        if a1 > a0:
            out.append((e, a0, a1))
        e += 1
    return np.array(out, np.int64).reshape(-1, 3)


def _chunks(ends: list[int], lo: int, hi: int, rows: int) -> list[tuple[int, int, list]]:
    """Rows lo..hi as chunks of <= ``rows`` rows, each with its (expert, a0, a1) segments.

    Whole experts are packed together; an expert that does not fit starts a new chunk and
    only one bigger than a chunk is cut, so an expert's weights are read as few times as
    possible."""
    out: list[tuple[int, int, list]] = []
    c0, segments = lo, []
    e = bisect.bisect_right(ends, lo)
    while e < len(ends) and (ends[e - 1] if e else 0) < hi:
        a0, a1 = max(ends[e - 1] if e else 0, lo), min(ends[e], hi)
        if a1 > a0 and segments and a1 - c0 > rows:
            out.append((c0, a0, segments))
            c0, segments = a0, []
        while a1 - a0 > rows:
            out.append((a0, a0 + rows, [(e, a0, a0 + rows)]))
            a0 = c0 = a0 + rows
        if a1 > a0:
            segments.append((e, a0, a1))
        e += 1
    if segments:
        out.append((c0, segments[-1][2], segments))
    return out


def _run_all(pool: ThreadPoolExecutor | None, tasks: list[tuple]) -> None:
    """Run ``(fn, *args)`` tasks on the pool, the first on this thread; re-raise errors."""
    futures = [pool.submit(*task) for task in tasks[1:]] if pool else []
    tasks[0][0](*tasks[0][1:])
    for future in futures:
        future.result()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per size for the process, so repeated prepares do not leak threads."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=max(1, workers - 1),
                                             thread_name_prefix="moe-grouped")
    return _POOLS[workers]
