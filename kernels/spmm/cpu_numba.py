"""The plain numba CSR loop (``csr-numba``, a strong baseline): ``csr_spmm(data, indices,
indptr, x, out)`` writes ``out = A @ x`` in place, rows in parallel, each an axpy of x rows
over 1-D views (numba vectorizes those; 2-D indexing did not, see ../shared/DATA.md).

Imported only when the kernel is prepared, so start-up never compiles. Our kernels'
register-tiled loops live in ``tiled``/``micro_tile``, the decode ones in
``decode_expand``/``decode_gather``.
"""

from __future__ import annotations

import numba as nb
from numba import prange

from kernels import jit_cache

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder


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
