"""Wanda: prune by weight magnitude times input activation norm, per output row.

Sun, Liu, Bair and Kolter, "A Simple and Effective Pruning Approach for Large Language
Models" (2023): the score of weight ``W_ij`` (output ``i``, input ``j``) is
``|W_ij| * ||X_j||_2``, with ``X_j`` the ``j``-th input feature over every calibration
token; weights are compared within each output row (unstructured: the lowest-scored share
of every row goes), or within every group of ``m`` inputs of a row (N:M). The remaining
weights are not updated. Entries: ``wanda_scores(weight, input_sq_sum)``,
``wanda_mask(weight, input_sq_sum, pattern)``; cost: one pass over the weight.
"""

from __future__ import annotations

import numpy as np

from kernels.pruning.masks import keep_mask


def wanda_scores(weight: np.ndarray, input_sq_sum: np.ndarray) -> np.ndarray:
    """``|W| * ||X_j||_2`` for an (out x in) weight; ``input_sq_sum[j]`` = sum of ``x_j^2``."""
    norms = np.sqrt(np.asarray(input_sq_sum, dtype=np.float64))
    return np.abs(weight.astype(np.float64)) * norms[None, :]


def wanda_mask(weight: np.ndarray, input_sq_sum: np.ndarray, pattern) -> np.ndarray:
    """Boolean keep-mask: per output row (unstructured) or per group of m (N:M)."""
    return keep_mask(wanda_scores(weight, input_sq_sum), pattern, group="row")
