"""Register-blocked float32 building blocks of the CPU attention kernels (numba + LLVM IR).

Imported only when a CPU attention kernel is prepared. Main entries:

* ``mm_tile(a, ar, at, b, bt, bc, t_len, c, cr, cc, rows, vecs)``: the micro-kernel
  ``c[cr:cr+rows, cc:cc+16*vecs] += a[ar:ar+rows, at:at+t_len] @ b[bt:bt+t_len, cc':...]``
  with the ``rows x vecs`` accumulators (512-bit vectors of 16 float32) held in registers
  for the whole ``t`` loop: per step ``vecs`` vector loads of ``b`` and ``rows`` broadcasts
  of ``a`` feed ``rows * vecs`` FMAs (4 x 4: 16 FMAs per 8 loads, FMA-bound). The same
  tile computes scores (``a`` = Q rows, ``b`` = K transposed) and the P @ V update
  (``a`` = probabilities, ``b`` = V rows). numba cannot express this itself (LLVM will not
  keep an accumulator array in registers across the ``t`` loop), hence the IR, as in
  ``kernels.spmm.cpu_numba``.
* ``exp2_shift(row, n, shift) -> sum``: ``row[j] = 2**(row[j] - shift)`` for ``j < n`` with a
  degree-6 polynomial (relative error < 2e-7 for arguments >= -126; below, 0), vectorized:
  numba has no vector ``exp`` without Intel SVML, and the scalar libm call costs 4x.
  Scores are pre-scaled by ``log2(e) / sqrt(d)`` so softmax needs only ``2**x``.

* ``axpy_vec(acc, p, src, n_vec)`` and ``dot_vec(a, b, n_vec)``: one gathered K or V row
  (d = 16 n_vec floats) folded into an accumulator or a score, for the per-query
  gathers; numba's own loops over a runtime d ran 3-5x slower here.

All arrays are float32, 2-D and C-contiguous with rows a multiple of 64 bytes apart
(``pad_rows``); callers keep every index in range.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels import jit_cache

jit_cache.install(__file__)  # before any @njit of the package: the cache key covers this whole folder

LANES = 16          # float32 per 512-bit vector
KEY_BLOCK = 64      # keys per score tile: 4 vectors
LOG2E = 1.4426950408889634
NEG_INF = np.float32(-np.inf)
EXP2_FLOOR = np.float32(-126.0)  # 2**x below this is flushed to 0
# 2**f on [0, 1): degree-6 polynomial, highest power first (relative error < 2e-7).
EXP2_POLY = tuple(np.float32(c) for c in (1.8775767e-3, 8.9893397e-3, 5.5826318e-2,
                                          2.4015361e-1, 6.9315308e-1, 9.9999994e-1))


def pad_to(n: int, multiple: int = KEY_BLOCK) -> int:
    """``n`` rounded up to a multiple of ``multiple`` (at least one multiple)."""
    return max(multiple, -(-n // multiple) * multiple)


def _element_ptr(builder, arr, row, col, vty=None):
    """Pointer to ``arr[row, col]`` (byte strides), cast to ``vty*`` when given."""
    i64 = ir.IntType(64)
    base = builder.bitcast(arr.data, ir.IntType(8).as_pointer())
    stride = builder.extract_value(arr.strides, 0)
    offset = builder.add(builder.mul(row, stride), builder.mul(col, ir.Constant(i64, 4)))
    ptr = builder.gep(base, [offset])
    return builder.bitcast(ptr, (vty or ir.FloatType()).as_pointer())


def _as_i64(context, builder, value, ty):
    return context.cast(builder, value, ty, types.int64)


@intrinsic
def mm_tile(typingctx, a, ar, at, b, bt, bc, t_len, c, cr, cc, rows, vecs):
    """See the module docstring; ``rows`` (1..8) and ``vecs`` (1..4) must be literals."""
    if not (isinstance(rows, types.IntegerLiteral) and isinstance(vecs, types.IntegerLiteral)):
        return None
    n_rows, n_vecs = rows.literal_value, vecs.literal_value
    sig = types.void(a, ar, at, b, bt, bc, t_len, c, cr, cc, rows, vecs)

    def codegen(context, builder, signature, args):
        tys = signature.args
        aa, ba, ca = (context.make_array(tys[i])(context, builder, args[i]) for i in (0, 3, 7))
        ar_, at_, bt_, bc_, tl_, cr_, cc_ = (_as_i64(context, builder, args[i], tys[i])
                                             for i in (1, 2, 4, 5, 6, 8, 9))
        i64, fty = ir.IntType(64), ir.FloatType()
        vty = ir.VectorType(fty, LANES)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                             "llvm.fma.v16f32")
        zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)

        def const(v):
            return ir.Constant(i64, v)

        slots = {}
        for r in range(n_rows):
            for v in range(n_vecs):
                ptr = _element_ptr(builder, ca, builder.add(cr_, const(r)),
                                   builder.add(cc_, const(v * LANES)), vty)
                slot = cgutils.alloca_once(builder, vty)
                builder.store(builder.load(ptr, align=4), slot)
                slots[r, v] = slot
        with cgutils.for_range(builder, tl_) as loop:
            t = loop.index
            bvecs = [builder.load(_element_ptr(builder, ba, builder.add(bt_, t),
                                               builder.add(bc_, const(v * LANES)), vty),
                                  align=4) for v in range(n_vecs)]
            for r in range(n_rows):
                scalar = builder.load(_element_ptr(builder, aa, builder.add(ar_, const(r)),
                                                   builder.add(at_, t)))
                splat = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar,
                                               ir.Constant(ir.IntType(32), 0))
                splat = builder.shuffle_vector(splat, ir.Constant(vty, ir.Undefined), zero_mask)
                for v in range(n_vecs):
                    acc = builder.load(slots[r, v])
                    builder.store(builder.call(fma, [splat, bvecs[v], acc]), slots[r, v])
        for (r, v), slot in slots.items():
            ptr = _element_ptr(builder, ca, builder.add(cr_, const(r)),
                               builder.add(cc_, const(v * LANES)), vty)
            builder.store(builder.load(slot), ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


def _vector_ops(builder):
    """The LLVM vector intrinsics the row kernels use, declared once per module."""
    vty = ir.VectorType(ir.FloatType(), LANES)

    def declare(name, n_args):
        return cgutils.get_or_insert_function(builder.module,
                                              ir.FunctionType(vty, [vty] * n_args), name)

    return {"fma": declare("llvm.fma.v16f32", 3), "max": declare("llvm.maxnum.v16f32", 2),
            "floor": declare("llvm.floor.v16f32", 1)}, vty


def _reduce(builder, vec, combine):
    """Tree reduction of a 16-lane vector with ``combine(a, b)`` (4 shuffle steps)."""
    width = LANES
    undef = ir.Constant(vec.type, ir.Undefined)
    while width > 1:
        width //= 2
        mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES),
                           [(i + width) % LANES for i in range(LANES)])
        vec = combine(vec, builder.shuffle_vector(vec, undef, mask))
    return builder.extract_element(vec, ir.Constant(ir.IntType(32), 0))


def _row_vectors(context, builder, aty, arr, row):
    """Pointers to the 4 vectors of ``arr[row, 0:64]`` (a 2-D float32 array)."""
    ary = context.make_array(aty)(context, builder, arr)
    row = context.cast(builder, row[0], row[1], types.int64)
    vty = ir.VectorType(ir.FloatType(), LANES)
    return [_element_ptr(builder, ary, row, ir.Constant(ir.IntType(64), q * LANES), vty)
            for q in range(KEY_BLOCK // LANES)]


@intrinsic
def row_max64(typingctx, arr, row):
    """max(arr[row, 0:64]) with four 512-bit loads and a shuffle tree."""
    sig = types.float32(arr, row)

    def codegen(context, builder, signature, args):
        ops, _ = _vector_ops(builder)
        ptrs = _row_vectors(context, builder, signature.args[0], args[0],
                            (args[1], signature.args[1]))
        acc = builder.load(ptrs[0], align=4)
        for ptr in ptrs[1:]:
            acc = builder.call(ops["max"], [acc, builder.load(ptr, align=4)])
        return _reduce(builder, acc, lambda a, b: builder.call(ops["max"], [a, b]))

    return sig, codegen


def _exp2_vector(builder, ops, vty, x):
    """2**x on 16 lanes: the polynomial of ``exp2`` in IR (0 where x <= -126)."""
    floor_v = ir.Constant(vty, [float(EXP2_FLOOR)] * LANES)
    x = builder.call(ops["max"], [x, floor_v])
    n = builder.call(ops["floor"], [x])
    f = builder.fsub(x, n)
    p = ir.Constant(vty, [float(EXP2_POLY[0])] * LANES)
    for coef in EXP2_POLY[1:]:
        p = builder.call(ops["fma"], [p, f, ir.Constant(vty, [float(coef)] * LANES)])
    i32v = ir.VectorType(ir.IntType(32), LANES)
    bits = builder.add(builder.fptosi(n, i32v), ir.Constant(i32v, [127] * LANES))
    bits = builder.shl(bits, ir.Constant(i32v, [23] * LANES))
    p = builder.fmul(p, builder.bitcast(bits, vty))
    keep = builder.fcmp_ordered(">", x, floor_v)
    return builder.select(keep, p, ir.Constant(vty, [0.0] * LANES))


@intrinsic
def exp2_row64(typingctx, arr, row, shift):
    """arr[row, j] = 2**(arr[row, j] - shift) for j < 64; returns their sum (zmm code)."""
    sig = types.float32(arr, row, shift)

    def codegen(context, builder, signature, args):
        ops, vty = _vector_ops(builder)
        ptrs = _row_vectors(context, builder, signature.args[0], args[0],
                            (args[1], signature.args[1]))
        shift = context.cast(builder, args[2], signature.args[2], types.float32)
        splat = builder.insert_element(ir.Constant(vty, ir.Undefined), shift,
                                       ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(splat, ir.Constant(vty, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), LANES),
                                                   [0] * LANES))
        total = ir.Constant(vty, [0.0] * LANES)
        for ptr in ptrs:
            p = _exp2_vector(builder, ops, vty, builder.fsub(builder.load(ptr, align=4), splat))
            builder.store(p, ptr, align=4)
            total = builder.fadd(total, p)
        return _reduce(builder, total, builder.fadd)

    return sig, codegen


def _vector_loop(context, builder, n_vec, body):
    """Emit ``for q in range(n_vec): body(offset)`` with offset = 16 q (an i64)."""
    n_vec = context.cast(builder, n_vec[0], n_vec[1], types.int64)
    with cgutils.for_range(builder, n_vec) as loop:
        body(builder.mul(loop.index, ir.Constant(ir.IntType(64), LANES)))


def _vector_at(context, builder, aty, arr, offset):
    """Pointer to the 16 floats of a 1-D contiguous float32 array from ``offset``."""
    ary = context.make_array(aty)(context, builder, arr)
    vty = ir.VectorType(ir.FloatType(), LANES)
    return builder.bitcast(builder.gep(ary.data, [offset]), vty.as_pointer())


@intrinsic
def axpy_vec(typingctx, acc, p, src, n_vec):
    """acc[0:16 n_vec] += p * src[0:16 n_vec] (1-D contiguous float32), 512-bit vectors."""
    sig = types.void(acc, p, src, n_vec)

    def codegen(context, builder, signature, args):
        ops, vty = _vector_ops(builder)
        scalar = context.cast(builder, args[1], signature.args[1], types.float32)
        splat = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar,
                                       ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(splat, ir.Constant(vty, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), LANES),
                                                   [0] * LANES))

        def body(offset):
            a_ptr = _vector_at(context, builder, signature.args[0], args[0], offset)
            s_ptr = _vector_at(context, builder, signature.args[2], args[2], offset)
            new = builder.call(ops["fma"], [splat, builder.load(s_ptr, align=4),
                                            builder.load(a_ptr, align=4)])
            builder.store(new, a_ptr, align=4)

        _vector_loop(context, builder, (args[3], signature.args[3]), body)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def dot_vec(typingctx, a, b, n_vec):
    """sum(a[0:16 n_vec] * b[0:16 n_vec]) (1-D contiguous float32), 512-bit vectors."""
    sig = types.float32(a, b, n_vec)

    def codegen(context, builder, signature, args):
        ops, vty = _vector_ops(builder)
        total = cgutils.alloca_once(builder, vty)
        builder.store(ir.Constant(vty, [0.0] * LANES), total)

        def body(offset):
            x = builder.load(_vector_at(context, builder, signature.args[0], args[0], offset),
                             align=4)
            y = builder.load(_vector_at(context, builder, signature.args[1], args[1], offset),
                             align=4)
            builder.store(builder.call(ops["fma"], [x, y, builder.load(total)]), total)

        _vector_loop(context, builder, (args[2], signature.args[2]), body)
        return _reduce(builder, builder.load(total), builder.fadd)

    return sig, codegen


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits (vectorizes as a no-op)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@intrinsic
def float_bits(typingctx, x):
    """Reinterpret a float32 as the int32 with the same bits."""
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@nb.njit(fastmath=True, inline="always", cache=True)
def exp2(x):
    """2**x in float32 for x <= 0 (degree-6 polynomial on the fraction; 0 below -126).

    Every step stays float32 (``math.floor`` would return an int and pull in float64)."""
    x = max(x, EXP2_FLOOR)
    n = np.floor(x)
    f = x - n
    c0, c1, c2, c3, c4, c5 = EXP2_POLY
    p = ((((c0 * f + c1) * f + c2) * f + c3) * f + c4) * f + c5
    scale = _bits_to_float((np.int32(n) + np.int32(127)) << np.int32(23))
    return p * scale if x > EXP2_FLOOR else np.float32(0.0)


@nb.njit(fastmath=True, cache=True)
def exp2_shift(row, n, shift):
    """row[j] = 2**(row[j] - shift) for j < n (masked -inf entries give 0); returns the sum."""
    total = np.float32(0.0)
    for j in range(n):
        p = exp2(row[j] - shift)
        row[j] = p
        total += p
    return total
