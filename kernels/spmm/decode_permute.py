"""Decode GEMV (N = 1) for N:M: select x with register permutes, no gather (AVX-512, AVX2).

Main entry: ``nm_gemv_permute(values, idx, slots, x, out, offsets, cfg)`` writes
``out[:, 0] = W @ x`` for W in N:M form (flattened rows of ``slots`` = G*n values, arrays
padded past the end); ``cfg`` = ``llvm_vec.static(n, m)``. ``permute_plan(n, m, lanes)``
says whether the pattern fits (None if not) and gives the lane offsets.

The L = 16 kept values of one step (float32; 8 float64) lie in the next R*L positions of x,
R = m/n, because N:M keeps exactly n per group of m. So a step loads those R vectors of x
(contiguous, from L1), and R/2 ``vpermi2ps`` each pick, for the lanes whose groups lie in
one pair of vectors, x[group start + position] from the 32 values of the pair (the index
is the uint8 position plus a constant per lane); a masked move merges them. Per step:
1 index load, R x loads, R/2 permutes, 1 value load, 1 FMA, where ``vgatherdps`` costs
~14 cycles per 16 lanes here (decode_gather); measured on AVX-512 it ties the gather at
1:8 (both near the bytes then) and is 10-15% faster at 1:4. Only for R in
{2, 4, 8} and m dividing 2L (1:4, 2:8, 1:8, 2:16, 1:16...). AVX2 (float32): one ``vpermps``
per x vector of 8 (R <= 8, m dividing 8: 2:4, 1:4, 2:8, 1:8): there it also replaces the
slow table-driven expand at 2:4 (0.87x -> 1.3-1.4x dense) and the gather at 1:8 (1.8x).
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

# x vectors per step (4 vpermi2ps on AVX-512, 8 vpermps on AVX2); sparser patterns gather
MAX_VECTORS = {lv.MODE_AVX512: 8, lv.MODE_AVX2: 8}
PREFETCH_LINES = 32  # values (and their indices) prefetched this far ahead (docs/kernels-spmm.md)


def permute_plan(n: int, m: int, lanes: int, mode: int) -> np.ndarray | None:
    """Per lane, where its group starts inside the x vectors one permute reads (a pair on
    AVX-512, one vector on AVX2); None when the pattern does not fit (module doc)."""
    span = 2 * lanes if mode == lv.MODE_AVX512 else lanes
    vectors = m // n if m % n == 0 else 0
    if mode == lv.MODE_GENERIC or not vectors or lanes % n or span % m:
        return None
    if mode == lv.MODE_AVX2 and lanes != 8:  # vpermps: float32 lanes only
        return None
    if vectors > MAX_VECTORS[mode] or (mode == lv.MODE_AVX512 and vectors % 2):
        return None
    return ((np.arange(lanes) // n * m) % span).astype(np.int32)


def _permute(builder, a, index, b):
    """AVX-512: lane l = concat(a, b)[index[l]] (vpermi2ps/pd); AVX2 (b None): a[index[l]]."""
    vty = a.type
    if b is None:
        fn = cgutils.get_or_insert_function(builder.module,
                                            ir.FunctionType(vty, [vty, index.type]),
                                            "llvm.x86.avx2.permps")
        return builder.call(fn, [a, index])
    kind = "ps" if isinstance(vty.element, ir.FloatType) else "pd"
    fn = cgutils.get_or_insert_function(builder.module,
                                        ir.FunctionType(vty, [vty, index.type, vty]),
                                        f"llvm.x86.avx512.vpermi2var.{kind}.512")
    return builder.call(fn, [a, index, b])


# A generated micro-kernel (the loop as LLVM IR): longer than 40 lines by nature.
@intrinsic
def _permute_dot(typingctx, vals, idx, s0, s1, x, offsets, n, m, mode, ahead):
    """sum over slots s in [s0, s1) of vals[s] * x[group(s) * m + idx[s]] (generated IR);
    ``ahead``: cache lines of values (and the same slots of indices) prefetched ahead."""
    if not all(isinstance(v, types.IntegerLiteral) for v in (n, m, mode, ahead)):
        return None
    per_group, width, mode_v = n.literal_value, m.literal_value, mode.literal_value
    ahead_bytes = 64 * ahead.literal_value
    sig = vals.dtype(vals, idx, s0, s1, x, offsets, n, m, mode, ahead)

    def codegen(context, builder, signature, args):
        vs, ix, xs, of = (context.make_array(signature.args[i])(context, builder, args[i])
                          for i in (0, 1, 4, 5))
        lo, hi = (context.cast(builder, args[i], signature.args[i], types.int64) for i in (2, 3))
        fty = context.get_value_type(signature.args[0].dtype)
        lanes = lv.VECTOR_BYTES[mode_v] // context.get_abi_sizeof(fty)
        vty = ir.VectorType(fty, lanes)
        wide = ir.VectorType(ir.IntType(8 * lv.VECTOR_BYTES[mode_v] // lanes), lanes)
        i32v = ir.VectorType(lv.I32, lanes)
        lane_off = lv.load_vec(builder, of.data, i32v)
        vectors, span = width // per_group, lanes * width // per_group
        per_permute = 2 if mode_v == lv.MODE_AVX512 else 1  # x vectors one permute reads
        source_of = [(lane // per_group * width) // (per_permute * lanes) for lane in range(lanes)]
        iota = ir.Constant(i32v, list(range(lanes)))
        acc = cgutils.alloca_once_value(builder, lv.zeros(vty))
        xpos = cgutils.alloca_once_value(builder, lv.const(0))

        with cgutils.for_range_slice(builder, lo, hi, lv.const(lanes)) as (s, _):
            left = builder.trunc(builder.sub(hi, s), lv.I32)
            mask = builder.icmp_signed("<", iota, lv.splat(builder, left, i32v))
            if ahead_bytes:  # uint8 positions
                lv.prefetch_slots(builder, builder.gep(vs.data, [s]), builder.gep(ix.data, [s]),
                                  ahead_bytes, context.get_abi_sizeof(fty), 1)
            pos = builder.zext(lv.load_vec(builder, builder.gep(ix.data, [s]),
                                           ir.VectorType(ir.IntType(8), lanes)), i32v)
            index = builder.add(pos, lane_off)
            index = builder.zext(index, wide) if wide.element.width > 32 else index
            base = builder.gep(xs.data, [builder.load(xpos)])
            picked = lv.zeros(vty)
            for p in range(vectors // per_permute):
                first = p * per_permute * lanes
                a = lv.load_vec(builder, builder.gep(base, [lv.const(first)]), vty)
                b = (lv.load_vec(builder, builder.gep(base, [lv.const(first + lanes)]), vty)
                     if per_permute == 2 else None)
                lanes_p = ir.Constant(ir.VectorType(ir.IntType(1), lanes),
                                      [int(q == p) for q in source_of])
                picked = builder.select(lanes_p, _permute(builder, a, index, b), picked)
            v = builder.select(mask, lv.load_vec(builder, builder.gep(vs.data, [s]), vty),
                               lv.zeros(vty))
            picked = builder.select(mask, picked, lv.zeros(vty))
            builder.store(lv.fma(builder, v, picked, builder.load(acc)), acc)
            builder.store(builder.add(builder.load(xpos), lv.const(span)), xpos)
        return lv.hsum(builder, builder.load(acc))

    return sig, codegen


@nb.njit(parallel=True, fastmath=True, cache=True)
def _rows(values, idx, slots, x, out, offsets, n, m, mode, ahead):
    literally(n)
    literally(m)
    literally(mode)
    literally(ahead)
    for r in prange(out.shape[0]):
        out[r, 0] = _permute_dot(values, idx, r * slots, (r + 1) * slots, x, offsets, n, m,
                                 mode, ahead)


@nb.njit(fastmath=True, cache=True)
def nm_gemv_permute(values, idx, slots, x, out, offsets, cfg):
    """out[:, 0] = W @ x (see the module doc); ``cfg`` = ``static(n, m, mode, ahead)``
    (``ahead``: cache lines prefetched ahead, 0 for none); ``x`` 1-D, zero padded to
    ``ceil(slots / L) * L * m / n`` values."""
    _rows(values, idx, slots, x, out, offsets, lv.literal_of(cfg[0]), lv.literal_of(cfg[1]),
          lv.literal_of(cfg[2]), lv.literal_of(cfg[3]))
