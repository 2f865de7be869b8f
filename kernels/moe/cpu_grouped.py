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
  ranges balanced by rows + a per-expert cost; otherwise numpy + BLAS per chunk (experts
  beyond L2: chunks of up to 1024 rows, big experts cut evenly; float32 SwiGLU in numba).
numpy releases the GIL inside BLAS and ufunc loops; the numba FFN and combine are ``nogil``.
"""

from __future__ import annotations

import bisect
import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kernels.moe import cpu_small_gemm as small_gemm
from kernels.moe.cpu_combine import combine
from kernels.moe.ops import RoutingFeed, activate, id_dtype
from kernels.moe.plans import Plan

# Rows per chunk: h (chunk x h_in) about 2 MiB, at least 256 rows. Smaller chunks keep h
# in L2 but re-read a big expert's weights once per chunk, which costs more (measured).
CHUNK_BYTES, MIN_CHUNK_ROWS = 2 * 1024 * 1024, 256
# Wide experts (weights beyond L2, cpu_small_gemm.MAX_EXPERT_BYTES): each chunk streams the
# expert's tens of MB of weights again and a short GEMM runs below BLAS's peak, so chunks
# grow to WIDE_CHUNK_ROWS (h up to WIDE_CHUNK_BYTES). Mixtral/4 (d 1024, 44 MB per expert,
# ~512 rows each), one thread: 256-row chunks 1.25x the bare GEMM time, 1024 1.09x (measured).
WIDE_CHUNK_ROWS, WIDE_CHUNK_BYTES = 1024, 32 * 1024 * 1024
_POOLS: dict[int, ThreadPoolExecutor] = {}


def make_grouped_cpu(inst, inputs, chunk_rows: int = 0, workers: int = 1,
                     blas_threads: int = 0) -> Plan:
    """``workers`` > 1 runs expert-parallel: that many threads over the sorted rows, best
    with ``blas_threads=1`` (single-threaded GEMMs); the default, one thread with the BLAS
    library's own threading, measured fastest on a 2-core machine that others share."""
    grouped = _GroupedCpu(inst, inputs, chunk_rows, workers, blas_threads)
    pairs = inst.tokens * grouped.k
    return Plan(grouped.run, 2.0 * inst.d_model * inst.d_ff * (3 if inst.gated else 2) * pairs)


class _GroupedCpu:
    """Buffers, thread split and compiled code made once; ``run(batch)`` sorts the batch's
    pairs by expert, runs the expert FFNs on contiguous rows and combines."""

    def __init__(self, inst, inputs, chunk_rows: int, workers: int, blas_threads: int):
        from threadpoolctl import ThreadpoolController  # scans the loaded libraries: not timed

        self.fused = not chunk_rows and small_gemm.supported(inst)
        blas = ThreadpoolController().select(user_api="blas")
        self.limit, self.blas_threads = (blas.limit if blas_threads else _no_limit), blas_threads
        chunk_rows = chunk_rows or _default_chunk_rows(inst)
        self.w_in, self.w_down, self.activation = inputs.w_in, inputs.w_down, inst.activation
        self.n, self.k, t, d, dt = (inputs.w_in.shape[0], inst.top_k + inst.shared_experts,
                                    inst.tokens, inst.d_model, inst.dtype)
        pairs = t * self.k
        self.feed = RoutingFeed(np, inst, id_dtype(self.n))
        self.scratch = [_Scratch(inst, min(chunk_rows, pairs)) for _ in range(workers)]
        self.vector_swiglu = small_gemm.vector_swiglu(inst)
        self.ys, self.spare = np.zeros((pairs, d), dt), np.empty((pairs, d), dt)  # finite
        self.inv, self.rows, self.y = np.empty(pairs, np.intp), np.arange(pairs), np.empty((t, d), dt)
        self.row_cuts = np.linspace(0, pairs, workers + 1).astype(int).tolist()
        self.token_cuts = np.linspace(0, t, workers + 1).astype(int).tolist()
        self.workers, self.pool = workers, (_pool(workers) if workers > 1 else None)
        self._compile(inputs.batch.x)

    def _compile(self, x) -> None:
        """Compile the combine (and the fused FFN) now, not in a timed call."""
        ones = np.ones(self.rows.size, self.y.dtype)
        combine(self.ys, self.rows, ones, self.k, self.y, self.spare)
        s = self.scratch[0]
        if self.vector_swiglu:
            small_gemm.swiglu_rows(s.h, s.a, 1)
        if self.fused:
            small_gemm.expert_ffn(x, np.zeros(1, np.intp), self.w_in, self.w_down,
                                  np.array([[0, 0, 1]], np.int64), self.ys, s.xs, s.h, s.a)

    def run(self, batch):
        """y (T x d) of ``batch``: the timed call."""
        flat, w_flat = self.feed.flat(batch)
        order = np.argsort(flat, kind="stable")
        ends = np.cumsum(np.bincount(flat, minlength=self.n)).tolist()
        tokens = order // self.k
        cuts = _balanced_cuts(ends, self.workers) if self.fused else self.row_cuts
        with self.limit(limits=self.blas_threads):
            _run_all(self.pool, [(self._experts, lo, hi, s, batch.x, tokens, ends)
                                 for lo, hi, s in zip(cuts, cuts[1:], self.scratch, strict=False)])
            self.inv[order] = self.rows
            _run_all(self.pool, [(self._combine, t0, t1, w_flat) for t0, t1 in
                                 zip(self.token_cuts, self.token_cuts[1:], strict=False)])
        return self.y

    def _experts(self, lo, hi, s, x, tokens, ends) -> None:
        """FFNs of sorted rows lo..hi, on one worker's scratch ``s``."""
        if self.fused:  # whole FFN per block of MR rows, in numba (cpu_small_gemm)
            small_gemm.expert_ffn(x, tokens, self.w_in, self.w_down,
                                  _segments(ends, lo, hi), self.ys, s.xs, s.h, s.a)
            return
        for c0, c1, segments in _chunks(ends, lo, hi, s.rows):
            s.ffn(x, self.w_in, self.w_down, self.activation, tokens[c0:c1], c0, segments,
                  self.ys[c0:c1], self.vector_swiglu)

    def _combine(self, t0, t1, w_flat) -> None:
        """y of tokens t0..t1: each token's k expert rows, weighted and summed."""
        k = self.k
        combine(self.ys, self.inv[t0 * k:t1 * k], w_flat[t0 * k:t1 * k], k, self.y[t0:t1],
                self.spare[t0 * k:t1 * k])


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

    def ffn(self, x, w_in, w_down, activation, tokens, c0, segments, out,
            vector_swiglu=False) -> None:
        """FFN of sorted rows c0..c0+len(tokens): each segment with its expert's weights;
        ``vector_swiglu``: the activation in one numba pass (float32 SwiGLU), not five numpy."""
        m = tokens.size
        np.take(x, tokens, axis=0, out=self.xs[:m])
        for e, a0, a1 in segments:
            np.matmul(self.xs[a0 - c0:a1 - c0], w_in[e], out=self.h[a0 - c0:a1 - c0])
        if vector_swiglu:
            small_gemm.swiglu_rows(self.h, self.a, m)
        else:
            activate(np, self.h[:m], activation, self.a[:m])
        for e, a0, a1 in segments:
            np.matmul(self.a[a0 - c0:a1 - c0], w_down[e], out=out[a0 - c0:a1 - c0])


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


def _default_chunk_rows(inst) -> int:
    """Rows per chunk when ``chunk_rows`` is not given (see CHUNK_BYTES, WIDE_CHUNK_ROWS)."""
    row_bytes = inst.h_in * inst.dtype.itemsize
    rows = max(MIN_CHUNK_ROWS, CHUNK_BYTES // row_bytes)
    if small_gemm.expert_bytes(inst) > small_gemm.MAX_EXPERT_BYTES:
        rows = max(rows, min(WIDE_CHUNK_ROWS, WIDE_CHUNK_BYTES // row_bytes))
    return rows


def _chunks(ends: list[int], lo: int, hi: int, rows: int) -> list[tuple[int, int, list]]:
    """Rows lo..hi as chunks of <= ``rows`` rows, each with its (expert, a0, a1) segments.

    Whole experts are packed together; an expert that does not fit starts a new chunk and
    only one bigger than a chunk is cut, into near-equal pieces (no short tail GEMM), so an
    expert's weights are read as few times as possible."""
    out: list[tuple[int, int, list]] = []
    c0, segments = lo, []
    e = bisect.bisect_right(ends, lo)
    while e < len(ends) and (ends[e - 1] if e else 0) < hi:
        a0, a1 = max(ends[e - 1] if e else 0, lo), min(ends[e], hi)
        if a1 > a0 and segments and a1 - c0 > rows:
            out.append((c0, a0, segments))
            c0, segments = a0, []
        if a1 - a0 > rows:
            pieces = -(-(a1 - a0) // rows)
            for p in range(pieces - 1):
                cut = a0 + (a1 - a0) // (pieces - p)
                out.append((a0, cut, [(e, a0, cut)]))
                a0 = c0 = cut
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
