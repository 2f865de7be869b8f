"""Numba SpMM loops: the N:M kernel (ours) and a parallel CSR loop (a strong baseline).

Imported only when a numba kernel is prepared (``kernels.spmm.cpu``), so start-up never
compiles. Main entries: ``nm_spmm(values, columns, x, out, x_packed, acc, n, block_groups)``
and ``csr_spmm(data, indices, indptr, x, out)``; both write ``out`` in place.

How the N:M loop is built (measured on a 2-core AVX-512 VM, 1024^3 float32 1:4; numbers in
docs/kernels-spmm.md):

* x is packed into column tiles of ``TILE_COLS`` = 128 values (contiguous rows, 64-byte
  aligned), and each task walks K in blocks of ``BLOCK_ROWS_K`` = 64 rows of x, so the slab
  it reads (64 x 128 float32 = 32 KiB) stays in the 48 KiB L1 while ``BLOCK_ROWS_M`` output
  rows reuse it.
* The inner work is a register-blocked micro-kernel written as LLVM IR (``_micro``, a numba
  ``intrinsic``): for one output row and one K block it keeps the row's 128-wide accumulator
  in eight 512-bit registers, applies every kept value of the block (broadcast value x one
  vector load of x per FMA) and only then adds back to memory. numba cannot express this
  itself: LLVM will not keep an array slice in registers across the value loop (it cannot
  prove the accumulator does not alias x), and its vectorizer prefers 256-bit vectors here.
  Explicit ``<16 x float>`` vectors are emitted as zmm regardless of that preference.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

VECTOR_BYTES = 64   # one AVX-512 register
TILE_COLS = 128     # columns of x per packed tile: 8 zmm registers of float32 (512 B)
BLOCK_ROWS_K = 64   # rows of x per K block: the slab a task re-reads is 64 x 128 values, 32 KiB
BLOCK_ROWS_M = 256  # output rows per task: how many rows reuse one x slab
MAX_VECTORS = 8     # accumulators held in registers per micro-kernel call


def tile_cols(n_cols: int, itemsize: int = 4) -> int:
    """Packed tile width: TILE_COLS, or N rounded up to one vector when N is smaller."""
    lanes = VECTOR_BYTES // itemsize
    return min(TILE_COLS, -(-n_cols // lanes) * lanes)


def _aligned_zeros(shape, dtype) -> np.ndarray:
    """Zeroed C array whose data starts on a 64-byte boundary (full-vector loads)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    raw = np.zeros(count * dtype.itemsize + VECTOR_BYTES, dtype=np.uint8)
    start = -raw.ctypes.data % VECTOR_BYTES
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def workspace(m: int, k: int, n_cols: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Buffers the N:M kernel reuses across calls: packed x (zero padded) and one
    accumulator block per thread (allocated once at prepare, so calls do not page-fault)."""
    tile = tile_cols(n_cols, np.dtype(dtype).itemsize)
    x_packed = _aligned_zeros((-(-n_cols // tile), k, tile), dtype)
    acc = _aligned_zeros((nb.config.NUMBA_NUM_THREADS, min(BLOCK_ROWS_M, m), tile), dtype)
    return x_packed, acc


@intrinsic
def _micro(typingctx, x_tile, vals, cols, p0, p1, c, j0, n_vec):
    """c[j0 : j0 + n_vec*L] += sum over p in [p0, p1) of vals[p] * x_tile[cols[p], j0 : ...],
    with L lanes per 64-byte vector and the n_vec accumulators (n_vec a literal, 1..8) held
    in registers for the whole p loop. x_tile is a C-contiguous 2-D tile, vals/cols/c 1-D
    contiguous; the caller keeps every index in range."""
    if not isinstance(n_vec, types.IntegerLiteral):
        return None
    count = n_vec.literal_value
    dtype = x_tile.dtype
    sig = types.void(x_tile, vals, cols, p0, p1, c, j0, n_vec)

    def codegen(context, builder, signature, args):
        xt, vv, cc, lo, hi, acc_arr, jj, _ = args
        i64 = ir.IntType(64)
        fty = context.get_value_type(dtype)
        lanes = VECTOR_BYTES // context.get_abi_sizeof(fty)
        vty = ir.VectorType(fty, lanes)
        vptr = vty.as_pointer()
        xs = context.make_array(signature.args[0])(context, builder, xt)
        vs = context.make_array(signature.args[1])(context, builder, vv)
        cs = context.make_array(signature.args[2])(context, builder, cc)
        accs = context.make_array(signature.args[5])(context, builder, acc_arr)
        row_len = builder.extract_value(xs.shape, 1)
        lo = context.cast(builder, lo, signature.args[3], types.int64)
        hi = context.cast(builder, hi, signature.args[4], types.int64)
        jj = context.cast(builder, jj, signature.args[6], types.int64)
        cbase = builder.gep(accs.data, [jj])
        slots = []
        for q in range(count):
            ptr = builder.bitcast(builder.gep(cbase, [ir.Constant(i64, q * lanes)]), vptr)
            slot = cgutils.alloca_once(builder, vty)
            builder.store(builder.load(ptr, align=4), slot)
            slots.append(slot)
        suffix = f"v{lanes}f{8 * context.get_abi_sizeof(fty)}"
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                             "llvm.fma." + suffix)
        zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        with cgutils.for_range_slice(builder, lo, hi, ir.Constant(i64, 1), inc=True) as (p, _):
            col = builder.load(builder.gep(cs.data, [p]))
            col = builder.sext(col, i64) if col.type.width < 64 else col
            scalar = builder.load(builder.gep(vs.data, [p]))
            vec = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar,
                                         ir.Constant(ir.IntType(32), 0))
            vec = builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), zero_mask)
            xrow = builder.gep(xs.data, [builder.add(builder.mul(col, row_len), jj)])
            for q, slot in enumerate(slots):
                ptr = builder.bitcast(builder.gep(xrow, [ir.Constant(i64, q * lanes)]), vptr)
                b = builder.load(ptr, align=4)
                builder.store(builder.call(fma, [vec, b, builder.load(slot)]), slot)
        for q, slot in enumerate(slots):
            ptr = builder.bitcast(builder.gep(cbase, [ir.Constant(i64, q * lanes)]), vptr)
            builder.store(builder.load(slot), ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(parallel=True, fastmath=True, cache=True)
def _pack(x, x_packed):
    """x_packed[t, k, :w] = x[k, t*T : t*T + w]; the padding columns stay zero."""
    n_tiles, k_rows, tile = x_packed.shape
    n_cols = x.shape[1]
    for t in prange(n_tiles):
        j0 = t * tile
        width = min(tile, n_cols - j0)
        for k in range(k_rows):
            dst = x_packed[t, k]
            src = x[k]
            for j in range(width):
                dst[j] = src[j0 + j]


@nb.njit(fastmath=True, cache=True)
def _apply_block(values, columns, x_tile, acc, r0, r1, p0, p1):
    """acc[i - r0] += sum over kept values p0..p1 of row i of value * x_tile[column]."""
    width = acc.shape[1]
    lanes = 64 // acc.itemsize
    step = MAX_VECTORS * lanes
    for i in range(r0, r1):
        c = acc[i - r0]
        v = values[i]
        col = columns[i]
        j = 0
        while j + step <= width:
            _micro(x_tile, v, col, p0, p1, c, j, MAX_VECTORS)
            j += step
        while j < width:  # narrow tiles (N < TILE_COLS): one vector at a time
            _micro(x_tile, v, col, p0, p1, c, j, 1)
            j += lanes


@nb.njit(fastmath=True, cache=True)
def _store(acc, out, r0, r1, j0):
    width = min(acc.shape[1], out.shape[1] - j0)
    for i in range(r0, r1):
        dst = out[i]
        src = acc[i - r0]
        for j in range(width):
            dst[j0 + j] = src[j]


@nb.njit(parallel=True, fastmath=True, cache=True)
def nm_spmm(values, columns, x, out, x_packed, acc, n, block_groups):
    """out = W @ x for W in N:M form: ``values``/``columns`` are M x G*n (columns absolute,
    int32, in range); ``block_groups`` groups of m make one K block."""
    _pack(x, x_packed)
    m_rows, slots = values.shape
    n_tiles, tile = x_packed.shape[0], x_packed.shape[2]
    groups = slots // n
    rows_per_task = acc.shape[1]
    n_blocks = -(-m_rows // rows_per_task)
    for task in prange(n_blocks * n_tiles):
        r0 = (task % n_blocks) * rows_per_task
        r1 = min(r0 + rows_per_task, m_rows)
        t = task // n_blocks
        block = acc[nb.get_thread_id()]
        block[:, :] = 0
        for g0 in range(0, groups, block_groups):
            g1 = min(g0 + block_groups, groups)
            _apply_block(values, columns, x_packed[t], block, r0, r1, g0 * n, g1 * n)
        _store(block, out, r0, r1, t * tile)


@nb.njit(parallel=True, fastmath=True, cache=True)
def csr_spmm(data, indices, indptr, x, out):
    """out = A @ x for A in CSR: rows in parallel, an axpy of x rows over 1-D views."""
    n_cols = x.shape[1]
    for i in prange(out.shape[0]):
        c = out[i]
        c[:] = 0
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            b = x[indices[p]]
            for j in range(n_cols):
                c[j] += v * b[j]
