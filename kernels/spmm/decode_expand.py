"""Decode-shaped SpMM on a bitmap (N <= 16 columns): expand the weights, not gather x.

Main entry: ``bitmap_spmm(values, rowptr, bits, xt, out, lut, mode, tokens)`` writes
``out[r, t] = sum_k W[r, k] * x[k, t]`` for ``t < tokens`` (<= ``MAX_TOKENS``) with W in
bitmap form (``formats_sparse.BitmapMatrix``): per row a bit per position along K and the
kept values packed in position order. ``xt`` is x transposed (tokens x Kp, zero padded to
whole chunks), so each chunk of L positions of one token is one vector load.

Per row and chunk of L positions (L = one vector: 16 float32 on AVX-512, 8 on AVX2) the
loop loads the chunk's L mask bits, expands the next popcount(mask) values into the lanes
the mask selects (``llvm_vec.expand``), and does one FMA per token with that token's x
chunk; a row's ``tokens`` accumulators are summed across lanes at its end.

Per chunk: 1 expand (1 load) + ``tokens`` x-loads and FMAs, whatever the density: the lanes
of pruned positions are multiplied too (executed FLOPs = 2 M Kp N, as dense), but the
weight bytes are the format's: values + 1 bit per position. At N = 1 the work is a few
instructions per 16 positions, so the kernel is bound by the weight bytes, the point of
decode sparsity. For N = 1 the chunk loop is unrolled over 4 accumulators (FMA latency);
for N = 2, 3 over 2.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import literally, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels import jit_cache
from kernels.spmm import llvm_vec as lv

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

MAX_TOKENS = 16    # accumulators per row: 16 zmm of the 32 (AVX2: 8 of 16 ymm, see max_tokens)
ROWS_PER_TASK = 64  # rows of W per parallel task; each task walks K in L1-sized blocks
L1_BLOCK_BYTES = 32 * 1024  # the block of x^T a task re-reads for its rows
PREFETCH_LINES = 192  # N = 1: values prefetched this many cache lines ahead (see the doc)


def max_tokens(mode: int) -> int:
    return 8 if mode == lv.MODE_AVX2 else MAX_TOKENS


def chunks_per_block(mode: int, tokens: int) -> int:
    """Chunks per K block: the block of x^T (tokens x chunks x L values) fits L1_BLOCK_BYTES."""
    return max(1, L1_BLOCK_BYTES // (tokens * lv.VECTOR_BYTES[mode]))


def expand_table(itemsize: int) -> np.ndarray:
    """The AVX2 expand's permutation table: row ``mask`` says which packed value each of the
    8 float32 lanes (4 float64 lanes, as pairs of 32-bit halves) takes."""
    lanes = 32 // itemsize
    table = np.zeros((1 << lanes, 8), dtype=np.int32)
    for mask in range(1 << lanes):
        taken = 0
        for lane in range(lanes):
            if mask >> lane & 1:
                half = 32 // 4 // lanes  # 32-bit halves per lane: 1 (float32) or 2 (float64)
                for h in range(half):
                    table[mask, lane * half + h] = taken * half + h
                taken += 1
    return table


def lanes_of(mode: int, itemsize: int) -> int:
    return lv.VECTOR_BYTES[mode] // itemsize


def unroll_of(tokens: int) -> int:
    return 4 if tokens == 1 else 2 if tokens <= 3 else 1


# A generated micro-kernel (the loop as LLVM IR): longer than 40 lines by nature.
@intrinsic
def _expand_row(typingctx, vals, p0, bits, c0, c1, xt, out_row, lut, mode, tokens, ahead):
    """out_row[t] += dot(row chunks c0..c1, xt[t]) for t < tokens; ``bits`` is the row's
    mask bytes, chunk c0's values start at ``vals[p0]``; returns where chunk c1's start.
    ``mode``, ``tokens`` and ``ahead`` (cache lines of values to prefetch ahead, 0: none)
    are literals (intrinsic: generated IR, see the module doc)."""
    if not all(isinstance(v, types.IntegerLiteral) for v in (mode, tokens, ahead)):
        return None
    sig = types.int64(vals, p0, bits, c0, c1, xt, out_row, lut, mode, tokens, ahead)
    mode_v, count, ahead_bytes = mode.literal_value, tokens.literal_value, 64 * ahead.literal_value
    unroll = unroll_of(count)

    def codegen(context, builder, signature, args):
        vs, bs, xs, os_, ls = (context.make_array(signature.args[i])(context, builder, args[i])
                               for i in (0, 2, 5, 6, 7))
        p0_, c0_, c1_ = (context.cast(builder, args[i], signature.args[i], types.int64)
                         for i in (1, 3, 4))
        fty = context.get_value_type(signature.args[0].dtype)
        item = context.get_abi_sizeof(fty)
        lanes = lanes_of(mode_v, item)
        vty = ir.VectorType(fty, lanes)
        row_len = builder.sdiv(builder.extract_value(xs.strides, 0), lv.const(item))
        xrows = [builder.gep(xs.data, [builder.mul(row_len, lv.const(t))]) for t in range(count)]
        accs = [[cgutils.alloca_once_value(builder, lv.zeros(vty)) for _ in range(count)]
                for _ in range(unroll)]
        p = cgutils.alloca_once_value(builder, p0_)
        main = builder.add(c0_, builder.mul(builder.sdiv(builder.sub(c1_, c0_), lv.const(unroll)),
                                            lv.const(unroll)))

        def chunk(c, acc_set):
            word = lv.chunk_bits(builder, bs.data, c, lanes)
            here = builder.load(p)
            if ahead_bytes:
                lv.prefetch(builder, builder.gep(vs.data, [here]), ahead_bytes)
            w = lv.expand(builder, mode_v, builder.gep(vs.data, [here]), word, vty, ls.data)
            col = builder.mul(c, lv.const(lanes))
            for t, slot in enumerate(acc_set):
                xv = lv.load_vec(builder, builder.gep(xrows[t], [col]), vty)
                builder.store(lv.fma(builder, w, xv, builder.load(slot)), slot)
            builder.store(builder.add(here, lv.popcount(builder, word)), p)

        with cgutils.for_range_slice(builder, c0_, main, lv.const(unroll)) as (c, _):
            for u in range(unroll):
                chunk(builder.add(c, lv.const(u)), accs[u])
        with cgutils.for_range_slice(builder, main, c1_, lv.const(1)) as (c, _):
            chunk(c, accs[0])
        totals = []
        for t in range(count):
            vec = builder.load(accs[0][t])
            for u in range(1, unroll):
                vec = builder.fadd(vec, builder.load(accs[u][t]))
            totals.append(vec)
        for first in range(0, count, lanes):  # out_row[t] += sums, `lanes` tokens at a time
            part = totals[first:first + lanes]
            sums = lv.sums_of(builder, part) if len(part) > 1 else None
            for t in range(len(part)):
                ptr = builder.gep(os_.data, [lv.const(first + t)])
                got = (builder.extract_element(sums, ir.Constant(lv.I32, t)) if sums is not None
                       else lv.hsum(builder, part[0]))
                builder.store(builder.fadd(builder.load(ptr), got), ptr)
        return builder.load(p)

    return sig, codegen


@nb.njit(parallel=True, fastmath=True, cache=True)
def _rows(values, rowptr, bits, n_chunks, block_chunks, xt, out, t0, lut, mode, tokens,
          ahead):
    literally(mode)
    literally(tokens)
    literally(ahead)
    m_rows = out.shape[0]
    n_tasks = -(-m_rows // ROWS_PER_TASK)
    for task in prange(n_tasks):
        r0 = task * ROWS_PER_TASK
        r1 = min(r0 + ROWS_PER_TASK, m_rows)
        pos = rowptr[r0:r1].copy()
        for r in range(r0, r1):
            out[r, t0:t0 + tokens] = 0
        for c0 in range(0, n_chunks, block_chunks):
            c1 = min(c0 + block_chunks, n_chunks)
            for r in range(r0, r1):
                pos[r - r0] = _expand_row(values, pos[r - r0], bits[r], c0, c1, xt,
                                          out[r, t0:], lut, mode, tokens, ahead)


@nb.njit(fastmath=True, cache=True)
def bitmap_spmm(values, rowptr, bits, n_chunks, block_chunks, xt, out, t0, lut, cfg):
    """out[:, t0 : t0 + tokens] = W @ x[:, t0 : t0 + tokens] for W in bitmap form (see the
    module doc); ``xt`` holds those tokens' rows of x transposed (tokens x Kp, zero padded),
    ``cfg`` = ``llvm_vec.static(mode, tokens, ahead)`` (``ahead``: lines of values
    prefetched ahead, 0 for none), K is walked in blocks of ``block_chunks`` chunks so a
    block of ``xt`` stays in L1."""
    _rows(values, rowptr, bits, n_chunks, block_chunks, xt, out, t0, lut,
          lv.literal_of(cfg[0]), lv.literal_of(cfg[1]), lv.literal_of(cfg[2]))


@nb.njit(fastmath=True, cache=True)
def transpose_into(x, xt):
    """xt[t, k] = x[k, t]: x^T, K x N to N x K; xt's padding columns stay zero."""
    k_rows, n_cols = x.shape
    if n_cols == 1:
        dst = xt[0]
        for k in range(k_rows):
            dst[k] = x[k, 0]
        return
    for k in range(k_rows):
        row = x[k]
        for t in range(n_cols):
            xt[t, k] = row[t]
