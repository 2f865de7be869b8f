"""Fused MoE combine for the CPU: y[t] = sum_j w[t, j] * rows[inv[t*k + j]] in one pass.

Compiled with numba on first use (``cache=True`` keeps the machine code between runs);
float16 has no numba arithmetic, so it falls back to three numpy passes.
"""

from __future__ import annotations

import numpy as np

_JIT = {}


def combine(rows: np.ndarray, inv: np.ndarray, weight: np.ndarray, k: int,
            y: np.ndarray, scratch: np.ndarray) -> None:
    """Weighted sum of each token's k expert rows; ``scratch`` (pairs x d) is for numpy."""
    if rows.dtype == np.float16:
        np.take(rows, inv, axis=0, out=scratch)
        np.multiply(scratch, weight[:, None], out=scratch)
        np.sum(scratch.reshape(y.shape[0], k, y.shape[1]), axis=1, out=y)
        return
    _compiled()(rows, inv, weight, k, y)


def _compiled():
    if "combine" not in _JIT:
        import numba

        @numba.njit(cache=True, nogil=True, fastmath=True)
        def combine_rows(rows, inv, weight, k, y):  # pragma: no cover (compiled)
            t, d = y.shape
            for i in range(t):
                out = y[i]
                out[:] = 0
                for s in range(k):
                    r, w = inv[i * k + s], weight[i * k + s]
                    src = rows[r]
                    for j in range(d):
                        out[j] += w * src[j]

        _JIT["combine"] = combine_rows
    return _JIT["combine"]
