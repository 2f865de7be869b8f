"""SpMM kernels: sparse weight (M x K) times dense x (K x N), on CPU and CUDA.

Importing this package registers every kernel (``cpu``, ``cpu_ours``, ``peers``, ``cuda``);
those modules import only numpy/scipy at top level. Compiled loops (``tiled``, ``micro_tile``,
``decode_expand``, ``decode_gather``, ``cpu_numba``) and CuPy code are imported when a kernel
is prepared. Formats: ``formats`` (N:M), ``formats_sparse`` (bitmap, narrow CSR). The
instruction set the loops compile for: ``isa.detect()``.
"""

from kernels.spmm import cpu, cpu_ours, cuda, peers  # noqa: F401  (registration)
