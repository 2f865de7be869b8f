"""CPU SpMM baselines: dense BLAS (the baseline), scipy CSR/BSR and the plain numba CSR loop.

Registers ``dense``, ``scipy-csr``, ``scipy-bsr`` and ``csr-numba`` on ``cpu``; our kernels
(``nm-numba``, ``csr16-numba``, ``bitmap-numba``) are in ``cpu_ours``. Preparation (format
conversion, compiling) is not timed; ``run(x)`` gets the activation batch from the
harness; numba is imported only when a numba kernel is prepared.
"""

from __future__ import annotations

import numpy as np

from kernels.spmm import costs
from suite.registry import register_kernel
from suite.workload import Prepared

SCIPY_DTYPES = ("float32", "float64")  # scipy.sparse has no float16 matmul
NUMBA_DTYPES = ("float32", "float64")  # numba has no float16 arithmetic on CPU
BSR_DEFAULT_BLOCK = 4


def _copy_out(out: np.ndarray) -> np.ndarray:
    # Kernels that reuse one output buffer hand the checker a copy it may keep.
    return np.array(out, copy=True)


@register_kernel("spmm", "dense", device="cpu", needs=("numpy",),
                 description="numpy BLAS matmul on the zero-filled weight (the baseline)")
def dense(instance, inputs, ctx):
    w = np.ascontiguousarray(inputs.weight)
    flops, bytes_min = costs.dense_cost(instance)
    return Prepared(run=lambda x: w @ x, flops=flops, bytes_min=bytes_min,
                    info={"format_bytes": int(w.nbytes)})


def _scipy_supports(instance):
    return costs.needs_dtype(instance, SCIPY_DTYPES, "scipy.sparse")


@register_kernel("spmm", "scipy-csr", device="cpu", needs=("scipy",),
                 description="scipy.sparse CSR @ dense (single thread)", supports=_scipy_supports)
def scipy_csr(instance, inputs, ctx):
    import scipy.sparse as sp
    w = sp.csr_matrix(inputs.weight)
    flops, bytes_min = costs.csr_cost(instance, w.nnz, instance.m)
    fmt = int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes)
    return Prepared(run=lambda x: w @ x, flops=flops, bytes_min=bytes_min,
                    info={"format_bytes": fmt, "nnz": int(w.nnz)})


def bsr_block(instance) -> int:
    """The pattern's block size for block patterns, else 4 when it divides M and K, else 1."""
    if instance.pattern.kind == "block":
        return instance.pattern.block
    for size in (BSR_DEFAULT_BLOCK, 2):
        if instance.m % size == 0 and instance.k % size == 0:
            return size
    return 1


@register_kernel("spmm", "scipy-bsr", device="cpu", needs=("scipy",),
                 description="scipy.sparse BSR @ dense (block = pattern block, else 4)",
                 supports=_scipy_supports)
def scipy_bsr(instance, inputs, ctx):
    import scipy.sparse as sp
    size = bsr_block(instance)
    w = _padded_bsr(sp, inputs.weight, size)
    m = instance.m
    n_blocks = int(w.indices.size)
    flops, bytes_min = costs.bsr_cost(instance, n_blocks, size)
    fmt = int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes)
    return Prepared(run=lambda x: w @ x, to_host=lambda out: np.asarray(out)[:m],
                    put=lambda x: _pad_rows(x, w.shape[1]),
                    flops=flops, bytes_min=bytes_min,
                    info={"format_bytes": fmt, "block": size, "blocks": n_blocks})


def _pad_rows(x: np.ndarray, rows: int) -> np.ndarray:
    """BSR pads K to a whole block: x gets zero rows, once per batch, before timing."""
    if x.shape[0] == rows:
        return x
    return np.vstack([x, np.zeros((rows - x.shape[0], x.shape[1]), x.dtype)])


def _padded_bsr(sp, weight: np.ndarray, size: int):
    """BSR needs M and K to be multiples of the block: pad with zeros (a pattern's edge
    blocks are partial too)."""
    m, k = weight.shape
    pm, pk = -(-m // size) * size, -(-k // size) * size
    padded = np.zeros((pm, pk), dtype=weight.dtype)
    padded[:m, :k] = weight
    w = sp.bsr_matrix(padded, blocksize=(size, size))
    w.eliminate_zeros()
    return w


def _numba_supports(instance):
    return costs.needs_dtype(instance, NUMBA_DTYPES, "numba kernels")


@register_kernel("spmm", "csr-numba", device="cpu", needs=("numba", "scipy"),
                 description="parallel numba CSR loop over 1-D row views",
                 supports=_numba_supports)
def csr_numba(instance, inputs, ctx):
    import scipy.sparse as sp

    from kernels.spmm import cpu_numba
    w = sp.csr_matrix(inputs.weight)
    data, indices, indptr = w.data, w.indices.astype(np.int32), w.indptr.astype(np.int64)
    out = np.empty((instance.m, instance.n), dtype=instance.dtype)

    def run(x):
        cpu_numba.csr_spmm(data, indices, indptr, x, out)
        return out

    run(np.ascontiguousarray(inputs.x))  # compile (or load from the on-disk cache) now, not in the first timed call
    flops, bytes_min = costs.csr_cost(instance, w.nnz, instance.m)
    fmt = int(data.nbytes + indices.nbytes + indptr.nbytes)
    return Prepared(run=run, to_host=_copy_out, flops=flops, bytes_min=bytes_min,
                    info={"format_bytes": fmt, "nnz": int(w.nnz)})
