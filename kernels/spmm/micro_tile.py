"""Register-tiled micro-kernels: one row of W times a packed tile of x, accumulators in
registers (numba intrinsics emitting LLVM IR; see ``llvm_vec`` for why).

``tile_nm(x_tile, vals, idx, g0, g1, m, acc, n_vec, n, mode)`` applies groups g0..g1 of an
N:M row (``vals``/``idx`` the row's slots, uint8 positions in their group of ``m``);
``tile_abs(x_tile, vals, cols, s0, s1, acc, n_vec, mode)`` applies entries s0..s1 of a CSR
row (``cols`` absolute, any unsigned width). Both do, for every kept value v at column c,
``acc[0 : n_vec*L] += v * x_tile[c, 0 : n_vec*L]`` with L lanes per vector (16 float32 on
AVX-512, 8 on AVX2): one broadcast of v, one index load and ``n_vec`` FMAs whose x operand
comes straight from the (L1-resident) tile. The accumulators stay in registers for the
whole range; with fewer than 4 vectors the values alternate between 2 or 4 independent
sets of accumulators, so the FMA latency (4 cycles) does not bound a narrow tile (the
decode shapes: N = 16 is one vector). ``n_vec``, ``n`` and ``mode`` are literals: the loops
are unrolled by them. These are generated micro-kernels, longer than 40 lines by nature.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels.spmm import llvm_vec as lv

MAX_VECTORS = {lv.MODE_AVX512: 8, lv.MODE_AVX2: 12, lv.MODE_GENERIC: 8}
# accumulators in registers: 8 of the 32 zmm (more did not help, docs/kernels-spmm.md);
# 12 of the 16 ymm on AVX2, enough independent FMAs for Zen's 5-cycle FMA latency.


def chains_of(n_vec: int) -> int:
    """Independent accumulator sets so >= 4 FMAs are in flight per value."""
    return 4 if n_vec == 1 else 2 if n_vec <= 3 else 1


class _Tile:
    """IR state shared by both intrinsics: the tile, the accumulator slots, the FMA step."""

    def __init__(self, context, builder, x_type, x_arg, n_vec, mode):
        self.builder = builder
        self.xs = context.make_array(x_type)(context, builder, x_arg)
        fty = context.get_value_type(x_type.dtype)
        self.lanes = lv.VECTOR_BYTES[mode] // context.get_abi_sizeof(fty)
        self.vty = ir.VectorType(fty, self.lanes)
        self.row_len = lv.const(n_vec * self.lanes)  # x_tile rows are exactly one tile wide
        self.n_vec = n_vec
        self.sets = [[cgutils.alloca_once_value(builder, lv.zeros(self.vty))
                      for _ in range(n_vec)] for _ in range(chains_of(n_vec))]

    def begin(self, acc_ptr):
        """Chain 0 starts from the accumulator row in memory, the other chains from 0."""
        b = self.builder
        for q in range(self.n_vec):
            ptr = b.gep(acc_ptr, [lv.const(q * self.lanes)])
            b.store(lv.load_vec(b, ptr, self.vty), self.sets[0][q])
            for chain in self.sets[1:]:
                b.store(lv.zeros(self.vty), chain[q])

    def apply(self, value, col, chain, splatted=False):
        """acc[chain] += value * x_tile[col, :] (``value`` a scalar, or a splat vector)"""
        b = self.builder
        vec = value if splatted else lv.splat(b, value, self.vty)
        xrow = b.gep(self.xs.data, [b.mul(col, self.row_len)])
        for q, slot in enumerate(self.sets[chain]):
            xv = lv.load_vec(b, b.gep(xrow, [lv.const(q * self.lanes)]), self.vty)
            b.store(lv.fma(b, vec, xv, b.load(slot)), slot)

    def finish(self, acc_ptr):
        b = self.builder
        for q in range(self.n_vec):
            total = b.load(self.sets[0][q])
            for chain in self.sets[1:]:
                total = b.fadd(total, b.load(chain[q]))
            lv.store_vec(b, total, b.gep(acc_ptr, [lv.const(q * self.lanes)]))


def _literals(*values):
    if not all(isinstance(v, types.IntegerLiteral) for v in values):
        return None
    return [v.literal_value for v in values]


def _unrolled(builder, lo, hi, step, body):
    """body(i, u, True) for i in [lo, hi) in steps of ``step`` (u = 0..step-1), then
    body(i, 0, False) for the rest, one at a time."""
    main = builder.add(lo, builder.mul(builder.sdiv(builder.sub(hi, lo), lv.const(step)),
                                       lv.const(step)))
    with cgutils.for_range_slice(builder, lo, main, lv.const(step)) as (i, _):
        for u in range(step):
            body(builder.add(i, lv.const(u)), u, True)
    with cgutils.for_range_slice(builder, main, hi, lv.const(1)) as (i, _):
        body(i, 0, False)


def _row_ptr(context, builder, arr, row):
    """Pointer to element [row, 0] of a 2-D array struct whose rows are contiguous (rows
    may be padded apart: the stride is read, not assumed)."""
    item = lv.const(context.get_abi_sizeof(context.get_value_type(arr._fe_type.dtype)))
    stride = builder.sdiv(builder.extract_value(arr.strides, 0), item)
    return builder.gep(arr.data, [builder.mul(row, stride)])


class _Values:
    """Where each kept value's broadcast comes from. Narrow tiles (decode, <= 2 vectors) on
    AVX-512 load the values L at a time and broadcast each from the register with a
    ``vpermps`` whose lane index comes from ``lane_tab`` at run time (LLVM turns a constant
    one back into a broadcast load): 2 loads per FMA instead of 3, ~15% faster at N = 16.
    Wide tiles are FMA-bound and keep the broadcast load."""

    def __init__(self, context, builder, tile, tab_type, tab_arg, mode, per_step):
        self.builder, self.tile = builder, tile
        self.on = tile.n_vec <= 2 and mode == lv.MODE_AVX512 and tile.lanes % per_step == 0
        if not self.on:
            return
        tab = context.make_array(tab_type)(context, builder, tab_arg)
        i32v = ir.VectorType(lv.I32, tile.lanes)
        row = _row_ptr(context, builder, tab, lv.const(0))
        width = builder.sdiv(builder.extract_value(tab.strides, 0), lv.const(4))
        self.index = [lv.load_vec(builder, builder.gep(row, [builder.mul(width, lv.const(j))]),
                                  i32v) for j in range(tile.lanes)]
        if tile.lanes == 8:  # float64: vpermpd takes 64-bit lane indices
            self.index = [builder.sext(v, ir.VectorType(lv.I64, 8)) for v in self.index]
        self.current = None

    def get(self, row_ptr, s, lane, whole):
        """The value at row_ptr[s], lane ``lane`` of its L-value step (scalar, or splat)."""
        b = self.builder
        if not (self.on and whole):
            return b.load(b.gep(row_ptr, [s])), False
        if lane == 0:
            self.current = lv.load_vec(b, b.gep(row_ptr, [s]), self.tile.vty)
        return lv.permute(b, self.current, self.index[lane]), True


@intrinsic
def tile_abs(typingctx, x_tile, vals, cols, starts, ends, r0, r1, acc, lane_tab, n_vec, mode):
    """For rows r in [r0, r1): acc[r - r0, : n_vec*L] += sum over s in [starts[r], ends[r])
    of vals[s] * x_tile[cols[s], : n_vec*L] (``starts``/``ends`` int64 per row; ``lane_tab``
    L x L int32, row j all j, see ``_Values``)."""
    lits = _literals(n_vec, mode)
    if lits is None:
        return None
    count, mode_v = lits
    sig = types.void(x_tile, vals, cols, starts, ends, r0, r1, acc, lane_tab, n_vec, mode)

    def codegen(context, builder, signature, args):
        tile = _Tile(context, builder, signature.args[0], args[0], count, mode_v)
        vs, cs, st, en, ac = (context.make_array(signature.args[i])(context, builder, args[i])
                              for i in (1, 2, 3, 4, 7))
        lo, hi = (context.cast(builder, args[i], signature.args[i], types.int64) for i in (5, 6))
        values = _Values(context, builder, tile, signature.args[8], args[8], mode_v, 1)
        step = tile.lanes if values.on else len(tile.sets)

        def one(s, u, whole):
            col = lv.as_i64(builder, builder.load(builder.gep(cs.data, [s])))
            value, splatted = values.get(vs.data, s, u, whole)
            tile.apply(value, col, u % len(tile.sets), splatted)

        with cgutils.for_range_slice(builder, lo, hi, lv.const(1)) as (r, _):
            acc_ptr = _row_ptr(context, builder, ac, builder.sub(r, lo))
            tile.begin(acc_ptr)
            _unrolled(builder, builder.load(builder.gep(st.data, [r])),
                      builder.load(builder.gep(en.data, [r])), step, one)
            tile.finish(acc_ptr)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def tile_nm(typingctx, x_tile, vals, idx, g0, g1, r0, r1, acc, lane_tab, n_vec, n, m, mode):
    """For rows r in [r0, r1): acc[r - r0, : n_vec*L] += sum over groups g in [g0, g1),
    j < n of vals[r, g*n + j] * x_tile[g*m + idx[r, g*n + j], : n_vec*L] (``lane_tab``:
    see ``_Values``)."""
    lits = _literals(n_vec, n, m, mode)
    if lits is None:
        return None
    count, per_group, group_width, mode_v = lits
    sig = types.void(x_tile, vals, idx, g0, g1, r0, r1, acc, lane_tab, n_vec, n, m, mode)

    def codegen(context, builder, signature, args):
        tile = _Tile(context, builder, signature.args[0], args[0], count, mode_v)
        vs, ix, ac = (context.make_array(signature.args[i])(context, builder, args[i])
                      for i in (1, 2, 7))
        glo, ghi, lo, hi = (context.cast(builder, args[i], signature.args[i], types.int64)
                            for i in (3, 4, 5, 6))
        chains = len(tile.sets)
        values = _Values(context, builder, tile, signature.args[8], args[8], mode_v, per_group)
        # groups per step: L values when broadcasting from registers, else >= one per chain
        unroll = tile.lanes // per_group if values.on else max(2, -(-chains // per_group))

        with cgutils.for_range_slice(builder, lo, hi, lv.const(1)) as (r, _):
            vrow, irow = _row_ptr(context, builder, vs, r), _row_ptr(context, builder, ix, r)

            def group(g, u, whole):
                base = builder.mul(g, lv.const(group_width))
                for j in range(per_group):
                    s = builder.add(builder.mul(g, lv.const(per_group)), lv.const(j))
                    pos = builder.load(builder.gep(irow, [s]))
                    col = builder.add(base, lv.as_i64(builder, pos))
                    value, splatted = values.get(vrow, s, u * per_group + j, whole)
                    tile.apply(value, col, (u * per_group + j) % chains, splatted)

            acc_ptr = _row_ptr(context, builder, ac, builder.sub(r, lo))
            tile.begin(acc_ptr)
            _unrolled(builder, glo, ghi, unroll, group)
            tile.finish(acc_ptr)
        return context.get_dummy_value()

    return sig, codegen
