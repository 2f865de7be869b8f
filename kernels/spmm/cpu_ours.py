"""Our CPU SpMM kernels: ``nm-numba`` (N:M), ``csr16-numba`` and ``bitmap-numba``
(unstructured, narrow metadata), each picking its loop by shape and instruction set.

Path per kernel (``paths``; FLOPs, bytes and floors in docs/kernels-spmm.md):

| kernel       | format                                   | N = 1        | 2 <= N <= 8       | larger N |
| ------------ | ---------------------------------------- | ------------ | ----------------- | -------- |
| nm-numba     | values + uint8 position in group         | permute/gather (n/m <= 1/4) or expand | expand (n/m > 1/4) or tiled | tiled |
| csr16-numba  | values + uint16 column (uint32 past 65536) + int64 row pointers | gather | tiled | tiled |
| bitmap-numba | values + 1 bit per position + int64 row pointers | expand | expand | expand, passes of 16 |

The instruction set (``isa.detect``; a kernel's ``isa`` option, e.g. ``{isa: avx2}``,
forces a narrower one) sets the vector width of every loop. Preparation (format
conversion, buffers, compiling or loading numba's cache) is not timed; ``run(x)`` gets the
harness's batch and returns a reused buffer, copied for the checker by ``to_host``.
"""

from __future__ import annotations

import numpy as np

from kernels.spmm import costs, isa, paths
from kernels.spmm import vec_modes as lv
from kernels.spmm.formats import nm_compress
from suite.errors import ParamError, Unsupported
from suite.registry import register_kernel
from suite.workload import Prepared

NUMBA_DTYPES = ("float32", "float64")  # numba has no float16 arithmetic on CPU
MAX_UNROLLED_N = 16  # N:M with more kept values per group runs the CSR tiled loop


def _mode(ctx) -> tuple[str, int]:
    try:
        name = isa.detect(ctx.options.get("isa"))
    except ParamError as exc:
        raise Unsupported(str(exc)) from exc
    return name, lv.MODE_OF_ISA[name]


def _prepared(instance, inputs, path: paths.Path, isa_name: str, extra: dict) -> Prepared:
    path.run(np.ascontiguousarray(inputs.x))  # compile (or load numba's cache) now, untimed
    return Prepared(run=path.run, to_host=lambda out: np.array(out, copy=True),
                    flops=path.flops, bytes_min=path.format_bytes + costs.io_bytes(instance),
                    info={"format_bytes": path.format_bytes, "isa": isa_name, **path.info,
                          **extra})


def _dtype_supports(instance):
    return costs.needs_dtype(instance, NUMBA_DTYPES, "numba kernels")


def _nm_supports(instance):
    return costs.needs_nm(instance) or _dtype_supports(instance)


@register_kernel("spmm", "nm-numba", device="cpu", needs=("numba",),
                 description="N:M values + uint8 indices: gather/expand decode loops, "
                             "register-tiled otherwise (ours)", supports=_nm_supports)
def nm_numba(instance, inputs, ctx):
    isa_name, mode = _mode(ctx)
    n, m = instance.pattern.n, instance.pattern.m
    nm = nm_compress(inputs.weight, n, m)
    name = paths.nm_path_name(n, m, instance.n, mode, instance.dtype)
    if name == "permute":
        path = paths.permute_nm_path(nm, mode)
    elif name == "gather":
        path = paths.gather_nm_path(nm, mode)
    elif name == "expand":
        from kernels.spmm.formats_sparse import bitmap_from_nm
        path = paths.expand_path(bitmap_from_nm(nm), instance.n, mode)
    elif n <= MAX_UNROLLED_N:
        path = paths.tiled_nm_path(nm, instance.n, mode)
    else:
        from kernels.spmm.formats_sparse import csr_compress
        path = paths.tiled_csr_path(csr_compress(inputs.weight), instance.n, mode)
    return _prepared(instance, inputs, path, isa_name, {"n": n, "m": m})


@register_kernel("spmm", "csr16-numba", device="cpu", needs=("numba",),
                 description="CSR with 16-bit columns: gather GEMV at N=1, register-tiled "
                             "otherwise (ours)", supports=_dtype_supports)
def csr16_numba(instance, inputs, ctx):
    from kernels.spmm.formats_sparse import csr_compress
    isa_name, mode = _mode(ctx)
    csr = csr_compress(inputs.weight)
    path = (paths.gather_csr_path(csr, mode) if instance.n == 1
            else paths.tiled_csr_path(csr, instance.n, mode))
    return _prepared(instance, inputs, path, isa_name,
                     {"nnz": csr.nnz, "index_bytes": int(csr.indices.itemsize)})


@register_kernel("spmm", "bitmap-numba", device="cpu", needs=("numba",),
                 description="bitmap + packed values, expanded in registers (decode, "
                             "Mustafar-style; ours)", supports=_dtype_supports)
def bitmap_numba(instance, inputs, ctx):
    from kernels.spmm.formats_sparse import bitmap_compress
    isa_name, mode = _mode(ctx)
    bm = bitmap_compress(inputs.weight)
    path = paths.expand_path(bm, instance.n, mode)
    return _prepared(instance, inputs, path, isa_name, {"nnz": bm.stored})
