"""SpMM kernels: sparse weight (M x K) times dense x (K x N), on CPU and CUDA.

Importing this package registers every kernel (``cpu``, ``peers``, ``cuda``); those modules
import only numpy/scipy at top level. Compiled loops live in ``cpu_numba`` and CuPy code in
``cuda_kernels``, imported when a kernel is prepared. Our format is ``formats.nm_compress``.
"""

from kernels.spmm import cpu, cuda, peers  # noqa: F401  (registration)
