"""Peer SpMM libraries on the CPU: Intel MKL through ``sparse_dot_mkl`` (``mkl-csr``).

``sparse_dot_mkl`` loads ``libmkl_rt`` when imported; some installs need the environment
variable ``MKL_RT`` to point at it (``<venv>/lib/libmkl_rt.so.2`` from the ``mkl`` wheel).
When MKL cannot load, the row is skipped with that reason.
"""

from __future__ import annotations

import numpy as np

from kernels.spmm import costs
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workload import Prepared

MKL_DTYPES = ("float32", "float64")


def _mkl_supports(instance):
    return costs.needs_dtype(instance, MKL_DTYPES, "MKL sparse BLAS")


def _load_mkl():
    import importlib.util
    if importlib.util.find_spec("sparse_dot_mkl") is None:
        raise Unsupported("sparse_dot_mkl is not installed (pip install '.[mkl]')")
    try:
        import sparse_dot_mkl
    except (ImportError, OSError, ValueError) as exc:  # it raises ImportError without MKL
        raise Unsupported("sparse_dot_mkl could not load MKL: pip install mkl, or set "
                          f"MKL_RT=<path to libmkl_rt.so> ({str(exc).splitlines()[0][:120]})"
                          ) from exc
    return sparse_dot_mkl


@register_kernel("spmm", "mkl-csr", device="cpu", needs=("sparse_dot_mkl",),
                 description="Intel MKL sparse CSR @ dense (sparse_dot_mkl)",
                 supports=_mkl_supports)
def mkl_csr(instance, inputs, ctx):
    import scipy.sparse as sp
    mkl = _load_mkl()
    w = sp.csr_matrix(inputs.weight)
    try:
        mkl.dot_product_mkl(w, np.ascontiguousarray(inputs.x))  # loads MKL: fail here, untimed
    except (OSError, ValueError, RuntimeError) as exc:
        raise Unsupported(f"MKL sparse matmul failed: {str(exc).splitlines()[0]}") from exc
    flops, bytes_min = costs.csr_cost(instance, w.nnz, instance.m)
    fmt = int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes)
    return Prepared(run=lambda x: mkl.dot_product_mkl(w, x), flops=flops, bytes_min=bytes_min,
                    info={"format_bytes": fmt, "nnz": int(w.nnz)})
