"""Fused expert FFN for a few rows at a time (numba + an LLVM-IR register-blocked GEMM).

For the small per-expert GEMMs of a skewed MoE (tens of rows against a 256 x 352 weight),
OpenBLAS packs the whole weight matrix on every call, and that packing costs as much as the
arithmetic. Here each block of ``MR`` rows runs the whole expert FFN while its data is in L1:
gather the tokens, ``h = x @ w_in`` (``MR`` x ``h_in``), SwiGLU, ``out = a @ w_down``, with
the weights read straight from their row-major layout (no packing; one expert's weights,
0.5 MiB at d 256, stay in L2 across the row blocks).

The micro-kernel (``_tile``, a numba ``intrinsic``; same technique as the N:M SpMM kernel)
keeps an ``MR`` x ``NV`` block of ``<16 x float>`` accumulators in registers over the K loop:
per k, ``NV`` vector loads of the weight row and ``MR`` broadcasts of the activations feed
``MR * NV`` ``llvm.fma`` calls. numba's own loops do not keep such a block in registers.

The SwiGLU uses a vectorizable float32 exp (Cody-Waite reduction, Cephes' degree-5
polynomial, 2^n built from its bits): numba's scalar ``np.exp`` is a libm call per element.

Only float32 SwiGLU experts whose weights fit in L2 take this path (``supported``); the
caller falls back to numpy + BLAS otherwise. Any d_model / d_ff: the last vector of a row
is masked.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16  # float32 per 512-bit vector
MR = 6      # rows per register block
NV = 4      # vectors (of 16 columns) per register block: 6 x 4 = 24 zmm accumulators
# Experts with more rows than one block ask for all their weights up front (software
# prefetch into L2): +10-20% at 12-30 rows; for one block it slowed the streaming (measured).
PREFETCH_MIN_ROWS = MR


# The fused loop re-reads an expert's weights once per block of MR rows: they must stay in
# L2 (2 MiB per core here). d 512 (2.2 MB per expert) ran 1.3-1.5x slower than BLAS.
MAX_EXPERT_BYTES = 1536 * 1024


def expert_bytes(inst) -> int:
    """Bytes of one expert's weights (w_in and w_down)."""
    return inst.dtype.itemsize * (inst.d_model * inst.h_in + inst.d_ff * inst.d_model)


def vector_swiglu(inst) -> bool:
    """Whether ``swiglu_rows`` applies: float32 SwiGLU experts."""
    return inst.dtype == np.float32 and inst.activation == "swiglu"


def supported(inst) -> bool:
    """Whether the whole expert FFN runs here (``expert_ffn``): weights that fit in L2."""
    return vector_swiglu(inst) and expert_bytes(inst) <= MAX_EXPERT_BYTES


def _lane_mask(context, builder, valid, valid_type):
    """<16 x i1>: lane i is on when i < valid."""
    i32 = ir.IntType(32)
    valid = context.cast(builder, valid, valid_type, types.int32)
    vec = builder.insert_element(ir.Constant(ir.VectorType(i32, LANES), ir.Undefined), valid,
                                 ir.Constant(i32, 0))
    vec = builder.shuffle_vector(vec, ir.Constant(ir.VectorType(i32, LANES), ir.Undefined),
                                 ir.Constant(ir.VectorType(i32, LANES), [0] * LANES))
    return builder.icmp_signed("<", ir.Constant(ir.VectorType(i32, LANES), list(range(LANES))),
                               vec)


def _vload(builder, ptr, mask):
    """A <16 x float> from the float pointer ptr; with a mask, only its lanes (others 0)."""
    vty = ir.VectorType(ir.FloatType(), LANES)
    vptr = builder.bitcast(ptr, vty.as_pointer())
    if mask is None:
        return builder.load(vptr, align=4)
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vptr.type, ir.IntType(32), mask.type, vty]),
        "llvm.masked.load.v16f32.p0")
    return builder.call(fn, [vptr, ir.Constant(ir.IntType(32), 4), mask,
                             ir.Constant(vty, [0.0] * LANES)])


def _vstore(builder, value, ptr, mask):
    vptr = builder.bitcast(ptr, value.type.as_pointer())
    if mask is None:
        builder.store(value, vptr, align=4)
        return
    fn = cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(ir.VoidType(), [value.type, vptr.type, ir.IntType(32), mask.type]),
        "llvm.masked.store.v16f32.p0")
    builder.call(fn, [value, vptr, ir.Constant(ir.IntType(32), 4), mask])


@intrinsic
def _tile(typingctx, a, b, c, ci0, j0, mr, nv, tail, valid):
    """c[ci0 + r, j0 : j0 + nv*16] = sum_k a[r, k] * b[k, j0 : j0 + nv*16] for r < mr
    (mr, nv, tail literals). a (rows x K), b (K x N), c: C-contiguous float32, indices in
    range. With tail = 1 only the first ``valid`` lanes of the last vector are read and
    written (masked loads and stores: N need not be a multiple of 16)."""
    if not all(isinstance(v, types.IntegerLiteral) for v in (mr, nv, tail)):
        return None
    rows, vecs, masked = mr.literal_value, nv.literal_value, bool(tail.literal_value)
    sig = types.void(a, b, c, ci0, j0, mr, nv, tail, valid)

    def codegen(context, builder, signature, args):
        av, bv, cv, crow, jj, _, _, _, nvalid = args
        i64 = ir.IntType(64)
        fty = ir.FloatType()
        vty = ir.VectorType(fty, LANES)
        aa = context.make_array(signature.args[0])(context, builder, av)
        ba = context.make_array(signature.args[1])(context, builder, bv)
        ca = context.make_array(signature.args[2])(context, builder, cv)
        a_len = builder.extract_value(aa.shape, 1)
        k_len = builder.extract_value(ba.shape, 0)
        n_len = builder.extract_value(ba.shape, 1)
        c_len = builder.extract_value(ca.shape, 1)
        crow = context.cast(builder, crow, signature.args[3], types.int64)
        jj = context.cast(builder, jj, signature.args[4], types.int64)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                             "llvm.fma.v16f32")
        zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
        mask = _lane_mask(context, builder, nvalid, signature.args[8]) if masked else None
        slots = []
        for _r in range(rows):
            row = []
            for _q in range(vecs):
                slot = cgutils.alloca_once(builder, vty)
                builder.store(ir.Constant(vty, [0.0] * LANES), slot)
                row.append(slot)
            slots.append(row)
        with cgutils.for_range(builder, k_len) as loop:
            k = loop.index
            brow = builder.gep(ba.data, [builder.add(builder.mul(k, n_len), jj)])
            bs = [_vload(builder, builder.gep(brow, [ir.Constant(i64, q * LANES)]),
                         mask if q == vecs - 1 else None) for q in range(vecs)]
            for r in range(rows):
                ai = builder.add(builder.mul(ir.Constant(i64, r), a_len), k)
                s = builder.load(builder.gep(aa.data, [ai]))
                vec = builder.insert_element(ir.Constant(vty, ir.Undefined), s,
                                             ir.Constant(ir.IntType(32), 0))
                vec = builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), zero_mask)
                for q in range(vecs):
                    slot = slots[r][q]
                    builder.store(builder.call(fma, [vec, bs[q], builder.load(slot)]), slot)
        for r in range(rows):
            base = builder.add(builder.mul(builder.add(crow, ir.Constant(i64, r)), c_len), jj)
            for q in range(vecs):
                ptr = builder.gep(ca.data, [builder.add(base, ir.Constant(i64, q * LANES))])
                _vstore(builder, builder.load(slots[r][q]), ptr,
                        mask if q == vecs - 1 else None)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _swiglu16(typingctx, h, a, r, j, valid):
    """a[r, j : j+16] = silu(g) * u for g = h[r, j : j+16], u = h[r, ff+j : ...], ff =
    a.shape[1]: exp(-g) as 2^n * p(x) (Cody-Waite split of ln 2, Cephes' expf polynomial),
    all in <16 x float> (numba's own loop here stays scalar)."""
    sig = types.void(h, a, r, j, valid)

    def codegen(context, builder, signature, args):
        hv, av, rr, jj, nvalid = args
        i32, fty = ir.IntType(32), ir.FloatType()
        vty, ity = ir.VectorType(fty, LANES), ir.VectorType(i32, LANES)
        ha = context.make_array(signature.args[0])(context, builder, hv)
        aa = context.make_array(signature.args[1])(context, builder, av)
        ff = builder.extract_value(aa.shape, 1)
        rr = context.cast(builder, rr, signature.args[2], types.int64)
        jj = context.cast(builder, jj, signature.args[3], types.int64)
        hrow = builder.add(builder.mul(rr, builder.extract_value(ha.shape, 1)), jj)

        mask = _lane_mask(context, builder, nvalid, signature.args[4])

        def load(arr, idx):
            return _vload(builder, builder.gep(arr.data, [idx]), mask)

        def const(v):
            return ir.Constant(vty, [float(v)] * LANES)

        def fn(name, n_args):
            return cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty] * n_args), name + ".v16f32")

        fma, vmin, vmax, floor = (fn("llvm.fma", 3), fn("llvm.minnum", 2),
                                  fn("llvm.maxnum", 2), fn("llvm.floor", 1))
        g = load(ha, hrow)
        u = load(ha, builder.add(hrow, ff))
        t = builder.call(vmin, [builder.call(vmax, [builder.fneg(g), const(-87.0)]),
                                const(88.0)])
        n = builder.call(floor, [builder.call(fma, [t, const(1.44269504), const(0.5)])])
        x = builder.call(fma, [n, const(-0.693359375), t])
        x = builder.call(fma, [n, const(2.12194440e-4), x])
        p = const(1.9875691500e-4)
        for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                  5.0000001201e-1):
            p = builder.call(fma, [p, x, const(c)])
        p = builder.call(fma, [builder.fmul(p, x), x, builder.fadd(x, const(1.0))])
        bits = builder.shl(builder.add(builder.fptosi(n, ity), ir.Constant(ity, [127] * LANES)),
                           ir.Constant(ity, [23] * LANES))
        e = builder.fmul(p, builder.bitcast(bits, vty))
        out = builder.fmul(builder.fdiv(g, builder.fadd(e, const(1.0))), u)
        dst = builder.gep(aa.data, [builder.add(builder.mul(rr, ff), jj)])
        _vstore(builder, out, dst, mask)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _prefetch(typingctx, arr, i):
    """Software prefetch (into L2: locality 2) of the cache line holding arr.flat[i]."""
    sig = types.void(arr, i)

    def codegen(context, builder, signature, args):
        av, ii = args
        aa = context.make_array(signature.args[0])(context, builder, av)
        ii = context.cast(builder, ii, signature.args[1], types.int64)
        ptr = builder.bitcast(builder.gep(aa.data, [ii]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(fastmath=True, nogil=True, cache=True)
def _prefetch_all(w):  # pragma: no cover (compiled)
    """Ask for every cache line of the C-contiguous array w (one expert's weights)."""
    for i in range(0, w.size, LANES):
        _prefetch(w, i)


@nb.njit(fastmath=True, nogil=True, cache=True, inline="always")
def _rows_nv(a, b, c, ci0, j0, m, nv, valid):  # pragma: no cover (compiled)
    """One tile of nv vectors (4, 2, 1; 0: one vector of which ``valid`` lanes) for m
    (1..MR) rows: the literal dispatch the intrinsic needs."""
    if nv == 4:
        if m == 6:
            _tile(a, b, c, ci0, j0, 6, 4, 0, valid)
        elif m == 5:
            _tile(a, b, c, ci0, j0, 5, 4, 0, valid)
        elif m == 4:
            _tile(a, b, c, ci0, j0, 4, 4, 0, valid)
        elif m == 3:
            _tile(a, b, c, ci0, j0, 3, 4, 0, valid)
        elif m == 2:
            _tile(a, b, c, ci0, j0, 2, 4, 0, valid)
        else:
            _tile(a, b, c, ci0, j0, 1, 4, 0, valid)
    elif nv == 2:
        if m == 6:
            _tile(a, b, c, ci0, j0, 6, 2, 0, valid)
        elif m == 5:
            _tile(a, b, c, ci0, j0, 5, 2, 0, valid)
        elif m == 4:
            _tile(a, b, c, ci0, j0, 4, 2, 0, valid)
        elif m == 3:
            _tile(a, b, c, ci0, j0, 3, 2, 0, valid)
        elif m == 2:
            _tile(a, b, c, ci0, j0, 2, 2, 0, valid)
        else:
            _tile(a, b, c, ci0, j0, 1, 2, 0, valid)
    elif nv == 1:
        if m == 6:
            _tile(a, b, c, ci0, j0, 6, 1, 0, valid)
        elif m == 5:
            _tile(a, b, c, ci0, j0, 5, 1, 0, valid)
        elif m == 4:
            _tile(a, b, c, ci0, j0, 4, 1, 0, valid)
        elif m == 3:
            _tile(a, b, c, ci0, j0, 3, 1, 0, valid)
        elif m == 2:
            _tile(a, b, c, ci0, j0, 2, 1, 0, valid)
        else:
            _tile(a, b, c, ci0, j0, 1, 1, 0, valid)
    else:
        if m == 6:
            _tile(a, b, c, ci0, j0, 6, 1, 1, valid)
        elif m == 5:
            _tile(a, b, c, ci0, j0, 5, 1, 1, valid)
        elif m == 4:
            _tile(a, b, c, ci0, j0, 4, 1, 1, valid)
        elif m == 3:
            _tile(a, b, c, ci0, j0, 3, 1, 1, valid)
        elif m == 2:
            _tile(a, b, c, ci0, j0, 2, 1, 1, valid)
        else:
            _tile(a, b, c, ci0, j0, 1, 1, 1, valid)


@nb.njit(fastmath=True, nogil=True, cache=True)
def _gemm_rows(a, b, c, ci0, m):  # pragma: no cover (compiled)
    """c[ci0 : ci0 + m] = a[:m] @ b, m <= MR (a masked last vector when 16 does not divide N)."""
    n = b.shape[1]
    j = 0
    while j + NV * LANES <= n:
        _rows_nv(a, b, c, ci0, j, m, 4, LANES)
        j += NV * LANES
    if j + 2 * LANES <= n:
        _rows_nv(a, b, c, ci0, j, m, 2, LANES)
        j += 2 * LANES
    if j + LANES <= n:
        _rows_nv(a, b, c, ci0, j, m, 1, LANES)
        j += LANES
    if j < n:
        _rows_nv(a, b, c, ci0, j, m, 0, n - j)


@nb.njit(fastmath=True, nogil=True, cache=True)
def swiglu_rows(h, a, m):  # pragma: no cover (compiled)
    """a[:m] = silu(h[:m, :ff]) * h[:m, ff:], exp in float32 vector-friendly form."""
    ff = a.shape[1]
    for r in range(m):
        for j in range(0, ff, LANES):
            _swiglu16(h, a, r, j, min(LANES, ff - j))


@nb.njit(fastmath=True, nogil=True, cache=True)
def expert_ffn(x, tokens, w_in, w_down, segments, out, xs, h, a):  # pragma: no cover
    """out[r] = FFN_e(x[tokens[r]]) for each (e, r0, r1) row of ``segments`` (int64, S x 3);
    xs (MR x d), h (MR x h_in), a (MR x ff) are this thread's scratch."""
    d = x.shape[1]
    for s in range(segments.shape[0]):
        e, r0, r1 = segments[s, 0], segments[s, 1], segments[s, 2]
        wi = w_in[e]
        wd = w_down[e]
        if r1 - r0 > PREFETCH_MIN_ROWS:
            _prefetch_all(wi)
            _prefetch_all(wd)
        for i0 in range(r0, r1, MR):
            m = min(MR, r1 - i0)
            for r in range(m):
                src = x[tokens[i0 + r]]
                dst = xs[r]
                for j in range(d):
                    dst[j] = src[j]
            _gemm_rows(xs, wi, h, 0, m)
            swiglu_rows(h, a, m)
            _gemm_rows(a, wd, out, i0, m)
