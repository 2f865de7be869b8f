"""Decode GEMV (N = 1) on index formats: gather x, 16 kept values per vector FMA.

Main entries (both ``out[:, 0] = W @ x[:, 0]`` in place):
``csr_gemv(values, cols, rowptr, x, out, cfg)`` for CSR with narrow column indices and
``nm_gemv(values, idx, x, out, offsets, step, cfg)`` for N:M (uint8 positions in their
group; needs n to divide the lanes L, see ``nm_lane_offsets``). ``cfg`` =
``llvm_vec.static(mode, ahead)`` (``ahead``: cache lines prefetched ahead; 0 for none).

Per L kept values (L = 16 float32 on AVX-512, 8 on AVX2): one load of L indices (widened to
32 bits; for N:M plus each lane's group start), one masked ``vgatherdps`` of x (x, K values,
sits in L1/L2), one load of the values and one FMA; rows end with a masked partial vector
and a horizontal sum. That is ~6 cycles per 16 values, so at low density the kernel moves
only the format's bytes (values + 1 or 2 index bytes per value), where the bitmap kernel
(``decode_expand``) would spend 2-3 cycles on every 16 positions whatever the density.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from llvmlite.ir import instructions
from numba import literally, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels import jit_cache
from kernels.spmm import llvm_vec as lv

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

PREFETCH_LINES = 32  # values (and their indices) prefetched this far ahead (docs/kernels-spmm.md)


def nm_lane_offsets(n: int, m: int, lanes: int) -> tuple[np.ndarray, int] | None:
    """Group start of each lane of a vector of L consecutive N:M slots (relative to the
    first's) and how far the next vector's groups start; None when n does not divide L."""
    if lanes % n:
        return None
    offsets = (np.arange(lanes, dtype=np.int32) // n) * m
    return offsets, (lanes // n) * m


def _gather(builder, base, index_vec, mask, vty):
    """Masked gather of base[index_vec[l]] (vgatherdps/vgatherdpd on x86)."""
    gep = instructions.GEPInstr(builder.block, base, [index_vec], False, "",
                                source_etype=vty.element)
    gep.type = ir.VectorType(vty.element.as_pointer(), vty.count)
    builder._insert(gep)
    bits = 32 if isinstance(vty.element, ir.FloatType) else 64
    fnty = ir.FunctionType(vty, [gep.type, lv.I32, mask.type, vty])
    fn = cgutils.get_or_insert_function(builder.module, fnty,
                                        f"llvm.masked.gather.v{vty.count}f{bits}.v{vty.count}p0")
    return builder.call(fn, [gep, ir.Constant(lv.I32, bits // 8), mask, lv.zeros(vty)])


# A generated micro-kernel (the loop as LLVM IR): longer than 40 lines by nature.
@intrinsic
def _gather_dot(typingctx, vals, idx, s0, s1, x, offsets, step, mode, ahead):
    """sum over s in [s0, s1) of vals[s] * x[idx[s] + group(s)], group(s) = offsets[lane]
    + step * (vector number); CSR passes zero offsets and step (generated IR). ``ahead``:
    cache lines of values (and the same slots of indices) prefetched ahead."""
    if not (isinstance(mode, types.IntegerLiteral) and isinstance(ahead, types.IntegerLiteral)):
        return None
    mode_v, ahead_bytes = mode.literal_value, 64 * ahead.literal_value
    sig = vals.dtype(vals, idx, s0, s1, x, offsets, step, mode, ahead)

    def codegen(context, builder, signature, args):
        vs, ix, xs, of = (context.make_array(signature.args[i])(context, builder, args[i])
                          for i in (0, 1, 4, 5))
        lo, hi, stp = (context.cast(builder, args[i], signature.args[i], types.int64)
                       for i in (2, 3, 6))
        fty = context.get_value_type(signature.args[0].dtype)
        lanes = lv.VECTOR_BYTES[mode_v] // context.get_abi_sizeof(fty)
        vty, i32v = ir.VectorType(fty, lanes), ir.VectorType(lv.I32, lanes)
        ity = ir.VectorType(context.get_value_type(signature.args[1].dtype), lanes)
        lane_off = lv.load_vec(builder, of.data, i32v)
        iota = ir.Constant(ir.VectorType(lv.I64, lanes), list(range(lanes)))
        accs = [cgutils.alloca_once_value(builder, lv.zeros(vty)) for _ in range(2)]
        base = cgutils.alloca_once_value(builder, lv.const(0))

        def block(s, u):
            limit = lv.splat(builder, builder.sub(hi, s), ir.VectorType(lv.I64, lanes))
            mask = builder.icmp_signed("<", iota, limit)
            if ahead_bytes:
                lv.prefetch_slots(builder, builder.gep(vs.data, [s]), builder.gep(ix.data, [s]),
                                  ahead_bytes, context.get_abi_sizeof(fty),
                                  ity.element.width // 8)
            cols = builder.zext(lv.load_vec(builder, builder.gep(ix.data, [s]), ity), i32v) \
                if ity.element.width < 32 else lv.load_vec(builder, builder.gep(ix.data, [s]), ity)
            here = builder.load(base)
            cols = builder.add(builder.add(cols, lane_off),
                               lv.splat(builder, builder.trunc(here, lv.I32), i32v))
            xg = _gather(builder, xs.data, cols, mask, vty)
            v = builder.select(mask, lv.load_vec(builder, builder.gep(vs.data, [s]), vty),
                               lv.zeros(vty))
            builder.store(lv.fma(builder, v, xg, builder.load(accs[u])), accs[u])
            builder.store(builder.add(here, stp), base)

        with cgutils.for_range_slice(builder, lo, hi, lv.const(2 * lanes)) as (s, _):
            block(s, 0)
            with builder.if_then(builder.icmp_signed("<", builder.add(s, lv.const(lanes)), hi)):
                block(builder.add(s, lv.const(lanes)), 1)
        total = builder.fadd(builder.load(accs[0]), builder.load(accs[1]))
        return lv.hsum(builder, total)

    return sig, codegen


@nb.njit(parallel=True, fastmath=True, cache=True)
def _csr_rows(values, cols, rowptr, x, out, offsets, mode, ahead):
    literally(mode)
    literally(ahead)
    for r in prange(out.shape[0]):
        out[r, 0] = _gather_dot(values, cols, rowptr[r], rowptr[r + 1], x, offsets, 0, mode,
                                ahead)


@nb.njit(fastmath=True, cache=True)
def csr_gemv(values, cols, rowptr, x, out, offsets, cfg):
    """out[:, 0] = W @ x for W in CSR (``offsets``: L int32 zeros); ``x`` 1-D, K values;
    ``cfg`` = ``static(mode, ahead)``."""
    _csr_rows(values, cols, rowptr, x, out, offsets, lv.literal_of(cfg[0]),
              lv.literal_of(cfg[1]))


@nb.njit(parallel=True, fastmath=True, cache=True)
def _nm_rows(values, idx, slots, x, out, offsets, step, mode, ahead):
    literally(mode)
    literally(ahead)
    for r in prange(out.shape[0]):
        out[r, 0] = _gather_dot(values, idx, r * slots, (r + 1) * slots, x, offsets, step, mode,
                                ahead)


@nb.njit(fastmath=True, cache=True)
def nm_gemv(values, idx, slots, x, out, offsets, step, cfg):
    """out[:, 0] = W @ x for W in N:M form, flattened (``slots`` = G*n per row, arrays
    padded past the last row); ``x`` 1-D, zero padded to G*m values; ``cfg`` =
    ``static(mode, ahead)``."""
    _nm_rows(values, idx, slots, x, out, offsets, step, lv.literal_of(cfg[0]),
             lv.literal_of(cfg[1]))
