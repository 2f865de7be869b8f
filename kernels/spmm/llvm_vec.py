"""LLVM IR helpers the numba intrinsics of the SpMM micro-kernels share.

numba cannot keep vectors in registers across a loop written in Python (it cannot prove an
accumulator does not alias its inputs), so the micro-kernels (``micro_tile``,
``decode_expand``, ``decode_bcast``) emit their loops as LLVM IR with explicit vector types.
These helpers build the pieces: vector types sized by the instruction set
(``kernels.spmm.isa``), splats, unaligned vector loads and stores, ``llvm.fma``, a
horizontal sum, and the expand of compressed values into the lanes a bitmap selects
(``vexpandps`` on AVX-512, a table-driven ``vpermps`` on AVX2, LLVM's portable
``llvm.masked.expandload`` elsewhere).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

I32 = ir.IntType(32)
I64 = ir.IntType(64)

# Modes, widths and ``static`` live in numba-free ``vec_modes`` (kernels register without numba).
from kernels.spmm.vec_modes import (  # noqa: E402,F401
    MODE_AVX2,
    MODE_AVX512,
    MODE_GENERIC,
    MODE_OF_ISA,
    VECTOR_BYTES,
    static,
)


@intrinsic
def literal_of(typingctx, encoded):
    """The integer ``static`` encoded in ``encoded``, typed as an IntegerLiteral."""
    value = encoded.count - 1

    def codegen(context, builder, signature, args):
        return context.get_constant(types.int64, value)

    return types.IntegerLiteral(value)(encoded), codegen


def const(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def as_i64(builder, value):
    """Widen an index (signed or unsigned integer of any width) to i64."""
    if value.type.width == 64:
        return value
    return builder.zext(value, I64)


def fma(builder, a, b, c):
    vty = a.type
    bits = 32 if isinstance(vty.element, ir.FloatType) else 64
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                        f"llvm.fma.v{vty.count}f{bits}")
    return builder.call(fn, [a, b, c])


def splat(builder, scalar, vty):
    vec = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(I32, 0))
    return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(I32, vty.count), [0] * vty.count))


def splat_lane(builder, vec, lane: int):
    """A vector of ``vec``'s lane ``lane`` in every lane (vbroadcastss / vpermps)."""
    count = vec.type.count
    return builder.shuffle_vector(vec, ir.Constant(vec.type, ir.Undefined),
                                  ir.Constant(ir.VectorType(I32, count), [lane] * count))


def permute(builder, vec, index_vec):
    """AVX-512 vpermps/vpermpd: lane l of the result is vec[index_vec[l]]; with a runtime
    index LLVM keeps it a register shuffle (a constant one it turns into a broadcast load)."""
    vty = vec.type
    kind = "sf" if isinstance(vty.element, ir.FloatType) else "df"
    fn = cgutils.get_or_insert_function(builder.module,
                                        ir.FunctionType(vty, [vty, index_vec.type]),
                                        f"llvm.x86.avx512.permvar.{kind}.512")
    return builder.call(fn, [vec, index_vec])


def load_vec(builder, elem_ptr, vty):
    """Unaligned load of one vector starting at ``elem_ptr`` (a pointer to an element)."""
    return builder.load(builder.bitcast(elem_ptr, vty.as_pointer()), align=1)


def store_vec(builder, vec, elem_ptr):
    builder.store(vec, builder.bitcast(elem_ptr, vec.type.as_pointer()), align=1)


def zeros(vty):
    return ir.Constant(vty, [ir.Constant(vty.element, 0.0)] * vty.count)


def hsum(builder, vec):
    """Sum of a vector's lanes as a tree of half-width shuffles and adds."""
    count = vec.type.count
    while count > 1:
        half = count // 2
        lo = builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(I32, half),
                                                          list(range(half))))
        hi = builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(I32, half),
                                                          list(range(half, count))))
        vec = builder.fadd(lo, hi)
        count = half
    return builder.extract_element(vec, ir.Constant(I32, 0))


def sums_of(builder, vecs):
    """[sum of lanes of v for v in vecs] as the first len(vecs) lanes of one vector (needs
    len(vecs) <= lanes): pairs of vectors are merged level by level, each merge keeping
    both inputs' partial sums in half as many lanes (2 shuffles + 1 add), 2T - 1 merges for
    T vectors where T horizontal sums would cost T log2(L) shuffle-add pairs."""
    lanes = vecs[0].type.count
    level = list(vecs) + [zeros(vecs[0].type)] * (lanes - len(vecs))
    seg = lanes
    while len(level) > 1:
        half = seg // 2
        lo_idx, hi_idx = [], []
        for src in (0, 1):
            for start in range(0, lanes, seg):
                lo_idx += [src * lanes + start + i for i in range(half)]
                hi_idx += [src * lanes + start + half + i for i in range(half)]
        mask_lo = ir.Constant(ir.VectorType(I32, lanes), lo_idx)
        mask_hi = ir.Constant(ir.VectorType(I32, lanes), hi_idx)
        level = [builder.fadd(builder.shuffle_vector(a, b, mask_lo),
                              builder.shuffle_vector(a, b, mask_hi))
                 for a, b in zip(level[0::2], level[1::2], strict=True)]
        seg = half
    return level[0]


def chunk_bits(builder, row_bytes_ptr, chunk, lanes):
    """The ``lanes`` bits of chunk ``chunk`` (bit c*lanes on, little-endian) as an iN."""
    ity = ir.IntType(lanes)
    if lanes >= 8:
        ptr = builder.gep(builder.bitcast(row_bytes_ptr, ity.as_pointer()), [chunk])
        return builder.load(ptr, align=1)
    bit = builder.mul(chunk, const(lanes))
    byte = builder.load(builder.gep(row_bytes_ptr, [builder.lshr(bit, const(3))]))
    shift = builder.trunc(builder.and_(bit, const(7)), ir.IntType(8))
    return builder.trunc(builder.lshr(byte, shift), ity)


def expand(builder, mode, vals_ptr, word, vty, lut_ptr):
    """Lanes ``word`` selects get consecutive values from ``vals_ptr``; the rest are zero.

    AVX-512: ``llvm.masked.expandload`` (one vexpandps). AVX2 has no expand: load ``lanes``
    values unaligned (the caller pads the value array), permute them with the row of
    ``lut_ptr`` (int32, 8 per mask value: which value each lane takes) and zero the unset
    lanes. Generic: ``llvm.masked.expandload``, which LLVM scalarizes where it has no
    instruction for it (correct everywhere, fast only on AVX-512).
    """
    mask = builder.bitcast(word, ir.VectorType(ir.IntType(1), vty.count))
    if mode != MODE_AVX2:
        bits = 32 if isinstance(vty.element, ir.FloatType) else 64
        fnty = ir.FunctionType(vty, [vty.element.as_pointer(), mask.type, vty])
        fn = cgutils.get_or_insert_function(builder.module, fnty,
                                            f"llvm.masked.expandload.v{vty.count}f{bits}")
        return builder.call(fn, [vals_ptr, mask, zeros(vty)])
    f8 = ir.VectorType(ir.FloatType(), 8)
    i8x = ir.VectorType(I32, 8)
    raw = builder.bitcast(load_vec(builder, vals_ptr, vty), f8)
    perm = load_vec(builder, builder.gep(lut_ptr, [builder.mul(as_i64(builder, word),
                                                                 const(8))]), i8x)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f8, [f8, i8x]),
                                        "llvm.x86.avx2.permps")
    moved = builder.bitcast(builder.call(fn, [raw, perm]), vty)
    return builder.select(mask, moved, zeros(vty))


def prefetch(builder, elem_ptr, offset_bytes: int):
    """Ask for the cache line ``offset_bytes`` past ``elem_ptr`` (``prefetcht0``; never
    faults, so it may point past an array's end)."""
    i8p = ir.IntType(8).as_pointer()
    fn = cgutils.get_or_insert_function(builder.module,
                                        ir.FunctionType(ir.VoidType(), [i8p, I32, I32, I32]),
                                        "llvm.prefetch.p0")
    ptr = builder.gep(builder.bitcast(elem_ptr, i8p), [const(offset_bytes)])
    builder.call(fn, [ptr, ir.Constant(I32, 0), ir.Constant(I32, 3), ir.Constant(I32, 1)])


def prefetch_slots(builder, vals_ptr, idx_ptr, ahead_bytes: int, value_bytes: int,
                   index_bytes: int):
    """Prefetch ``ahead_bytes`` ahead in a value stream and the same slots ahead in its
    index stream (``index_bytes`` per slot against ``value_bytes``)."""
    prefetch(builder, vals_ptr, ahead_bytes)
    prefetch(builder, idx_ptr, ahead_bytes * index_bytes // value_bytes)


def popcount(builder, word):
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(word.type, [word.type]),
                                        f"llvm.ctpop.i{word.type.width}")
    return as_i64(builder, builder.call(fn, [word]))
