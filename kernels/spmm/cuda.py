"""CUDA SpMM kernels through CuPy: cuBLAS dense (the baseline), cuSPARSE CSR, our N:M
format in a RawKernel, and 2:4 cuSPARSELt through torch.

Registers ``dense``, ``cusparse-csr``, ``nm-cupy`` and ``nm-cusparselt`` on ``cuda``. CuPy and
torch are imported inside the kernels; the CUDA device skips these rows where no GPU exists.
Upload and compression happen at prepare (not timed); ``run`` returns a device array.
"""

from __future__ import annotations

import numpy as np

from kernels.spmm import costs
from kernels.spmm.formats import nm_compress
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workload import Prepared

CUSPARSE_DTYPES = ("float32", "float64")  # cupyx.scipy.sparse has no float16
NM_CUPY_DTYPES = ("float32", "float16", "float64")
CUSPARSELT_DTYPES = ("float16",)  # of the family's dtypes, only float16 runs on 2:4 cores
THREADS_PER_BLOCK = 128

# One thread per output element; threads of a block share the row, so values and indices
# are broadcast and x is read coalesced along N. Accumulates in float (double for float64).
_NM_SOURCE = r"""
#include <cuda_fp16.h>
__device__ inline float load(const __half v) { return __half2float(v); }
__device__ inline float load(const float v) { return v; }
__device__ inline double load(const double v) { return v; }
__device__ inline void save(__half* p, float v) { *p = __float2half(v); }
__device__ inline void save(float* p, float v) { *p = v; }
__device__ inline void save(double* p, double v) { *p = v; }

template <typename T, typename Acc>
__global__ void nm_spmm(const T* values, const unsigned char* indices, const T* x, T* out,
                        int k, int n_cols, int slots, int n, int m) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    long long row = blockIdx.y;
    if (j >= n_cols) return;
    const T* v = values + row * slots;
    const unsigned char* idx = indices + row * slots;
    Acc acc = 0;
    for (int s = 0; s < slots; ++s) {
        int col = (s / n) * m + idx[s];
        if (col < k) acc += (Acc)load(v[s]) * (Acc)load(x[(long long)col * n_cols + j]);
    }
    save(out + row * n_cols + j, acc);
}
"""
_NM_NAMES = {"float16": "nm_spmm<__half, float>", "float32": "nm_spmm<float, float>",
             "float64": "nm_spmm<double, double>"}
_module = None


def _cupy():
    try:
        import cupy
    except ImportError as exc:
        raise Unsupported(f"cupy is not installed ({exc})") from exc
    return cupy


def _asnumpy(out):
    import cupy
    return cupy.asnumpy(out)


@register_kernel("spmm", "dense", device="cuda", needs=("cupy",),
                 description="cuBLAS matmul (cupy) on the zero-filled weight (the baseline)")
def dense(instance, inputs, ctx):
    cp = _cupy()
    w = cp.asarray(inputs.weight)
    flops, bytes_min = costs.dense_cost(instance)
    return Prepared(run=lambda x: w @ x, to_host=_asnumpy, put=cp.asarray, flops=flops,
                    bytes_min=bytes_min,
                    info={"format_bytes": int(w.nbytes)})


def _cusparse_supports(instance):
    return costs.needs_dtype(instance, CUSPARSE_DTYPES, "cupyx.scipy.sparse")


@register_kernel("spmm", "cusparse-csr", device="cuda", needs=("cupy",),
                 description="cupyx.scipy.sparse CSR @ dense (cuSPARSE SpMM)",
                 supports=_cusparse_supports)
def cusparse_csr(instance, inputs, ctx):
    import scipy.sparse as sp
    cp = _cupy()
    import cupyx.scipy.sparse as csp
    host = sp.csr_matrix(inputs.weight)
    w = csp.csr_matrix(host)
    flops, bytes_min = costs.csr_cost(instance, host.nnz, instance.m)
    fmt = int(host.data.nbytes + host.indices.nbytes + host.indptr.nbytes)
    return Prepared(run=lambda x: w @ x, to_host=_asnumpy, put=cp.asarray, flops=flops,
                    bytes_min=bytes_min,
                    info={"format_bytes": fmt, "nnz": int(host.nnz)})


def _nm_cupy_supports(instance):
    return costs.needs_nm(instance) or costs.needs_dtype(instance, NM_CUPY_DTYPES, "nm-cupy")


def _nm_kernel(cp, dtype_name: str):
    global _module
    if _module is None:
        _module = cp.RawModule(code=_NM_SOURCE, options=("--std=c++14",),
                               name_expressions=tuple(_NM_NAMES.values()))
    return _module.get_function(_NM_NAMES[dtype_name])


@register_kernel("spmm", "nm-cupy", device="cuda", needs=("cupy",),
                 description="our N:M format (values + uint8 indices) in a CuPy RawKernel",
                 supports=_nm_cupy_supports)
def nm_cupy(instance, inputs, ctx):
    cp = _cupy()
    n, m = instance.pattern.n, instance.pattern.m
    nm = nm_compress(inputs.weight, n, m)
    values, indices = cp.asarray(nm.values), cp.asarray(nm.indices)
    out = cp.empty((instance.m, instance.n), dtype=instance.dtype)
    kernel = _nm_kernel(cp, instance.dtype.name)
    grid = (-(-instance.n // THREADS_PER_BLOCK), instance.m)
    tail = (np.int32(instance.k), np.int32(instance.n), np.int32(nm.values.shape[1]),
            np.int32(n), np.int32(m))

    def run(x):
        kernel(grid, (THREADS_PER_BLOCK,), (values, indices, x, out, *tail))
        return out

    flops, bytes_min = costs.nm_cost(instance, nm.format_bytes, nm.values.size)
    return Prepared(run=run, to_host=_asnumpy, flops=flops, bytes_min=bytes_min,
                    put=lambda x: cp.asarray(np.ascontiguousarray(x)),
                    info={"format_bytes": nm.format_bytes, "n": n, "m": m})


def _cusparselt_supports(instance):
    p = instance.pattern
    if p.kind != "nm" or (p.n, p.m) != (2, 4):
        return f"cuSPARSELt runs 2:4 only; got {p.label}"
    return costs.needs_dtype(instance, CUSPARSELT_DTYPES, "cuSPARSELt (torch semi-structured)")


def _to_torch_cuda(x):
    import torch
    return torch.from_numpy(np.ascontiguousarray(x)).to("cuda")


@register_kernel("spmm", "dense", device="torch-cuda", needs=("torch",),
                 description="torch matmul (cuBLAS) on the zero-filled weight (the baseline)")
def torch_dense(instance, inputs, ctx):
    _torch_cuda()
    w = _to_torch_cuda(inputs.weight)
    flops, bytes_min = costs.dense_cost(instance)
    return Prepared(run=lambda x: w @ x, to_host=lambda out: out.cpu().numpy(),
                    put=_to_torch_cuda, flops=flops, bytes_min=bytes_min,
                    info={"format_bytes": int(w.numel() * w.element_size())})


@register_kernel("spmm", "nm-cusparselt", device="torch-cuda", needs=("torch",),
                 description="2:4 on sparse tensor cores: torch to_sparse_semi_structured",
                 supports=_cusparselt_supports)
def nm_cusparselt(instance, inputs, ctx):
    torch = _torch_cuda()
    from torch.sparse import to_sparse_semi_structured
    dense_w = torch.from_numpy(np.ascontiguousarray(inputs.weight)).to("cuda")
    try:
        w = to_sparse_semi_structured(dense_w)
    except (RuntimeError, ValueError) as exc:  # shape limits: rows/cols multiples of 32/64
        raise Unsupported(f"to_sparse_semi_structured refused {instance.m}x{instance.k}: "
                          f"{str(exc).splitlines()[0]}") from exc
    # 2 of 4 values (item bytes) + 2 bits each of metadata: (item + 0.25) bytes per value.
    stored = instance.m * instance.k // 2
    fmt = int(stored * instance.dtype.itemsize + stored // 4)
    return Prepared(run=lambda x: w @ x, to_host=lambda out: out.cpu().numpy(),
                    put=_to_torch_cuda, flops=2.0 * stored * instance.n, bytes_min=fmt + costs.io_bytes(instance),
                    info={"format_bytes": fmt})


def _torch_cuda():
    try:
        import torch
    except ImportError as exc:
        raise Unsupported(f"torch is not installed ({exc})") from exc
    if not torch.cuda.is_available():
        raise Unsupported("torch has no CUDA (a CPU-only torch build or no GPU)")
    if not hasattr(torch.sparse, "to_sparse_semi_structured"):
        raise Unsupported(f"torch {torch.__version__} lacks to_sparse_semi_structured")
    return torch
