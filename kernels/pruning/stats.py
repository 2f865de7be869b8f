"""Running statistics of one linear layer's inputs over calibration tokens.

``InputStats(features, hessian=True)``; ``add(x)`` with ``x`` tokens x features (float32
activations, as the layer sees them); then ``sq_sum`` (per feature, what Wanda's norms
need) and ``hessian()`` = ``2 X^T X / tokens`` (SparseGPT's layer-wise Hessian).
Each ``add`` costs one ``x.T @ x`` in float32 BLAS (accumulated in float64).
"""

from __future__ import annotations

import numpy as np


class InputStats:
    """Sum of squares per input feature and, optionally, ``X^T X``."""

    def __init__(self, features: int, hessian: bool = True):
        self.features = features
        self.sq_sum = np.zeros(features, dtype=np.float64)
        self.xtx = np.zeros((features, features), dtype=np.float64) if hessian else None
        self.tokens = 0

    def add(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"inputs {x.shape}; allowed: tokens x {self.features}")
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        self.sq_sum += np.einsum("ij,ij->j", x32, x32, dtype=np.float64)
        if self.xtx is not None:
            self.xtx += (x32.T @ x32).astype(np.float64)
        self.tokens += x.shape[0]

    def hessian(self) -> np.ndarray:
        """``2 X^T X / tokens`` (features x features, float64)."""
        if self.xtx is None:
            raise ValueError("these statistics were collected without hessian=True")
        return 2.0 * self.xtx / max(self.tokens, 1)
