"""SparseGPT: one-shot pruning that updates the kept weights to undo the pruned ones' error.

Frantar and Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned in
One-Shot" (2023), Algorithm 1. For a layer ``W`` (out x in) with inputs ``X`` the Hessian of
``||WX - ŴX||^2`` is ``H = 2 X X^T``, the same for every output row. With
``U = chol(H_λ^-1)^T`` (upper; ``H_λ`` damped by ``λ = damp * mean(diag H)``) the columns are
visited left to right: pruning column ``j``'s masked weights costs ``err = w_j / U_jj`` and
the OBS update ``W[:, j:] -= err U[j, j:]`` spreads it over the columns not yet visited.
Updates inside a block of ``block`` columns are applied at once; the rest of the matrix
gets one lazy ``E @ U[block, rest]`` per block. The mask is chosen as it goes: for
unstructured patterns once per block of ``block`` columns (the lowest ``w^2 / U_cc^2`` of the
whole block go), for N:M every ``m`` columns from the weights as updated so far (per row,
the ``n`` highest ``w^2 / U_cc^2`` of the group stay). Inputs that never fire
(``H_jj = 0``) get ``H_jj = 1`` and their weights are pruned outright.
Entry: ``sparsegpt_prune(weight, hessian, pattern) -> (pruned weight, mask)``; cost:
one Cholesky factorisation and inverse of ``H`` (in^3) plus ``out * in^2`` for the updates.
"""

from __future__ import annotations

import numpy as np

from kernels.pruning.masks import keep_mask, nm_keep

BLOCK = 128
DAMP = 0.01


def inverse_cholesky(hessian: np.ndarray, damp: float = DAMP) -> np.ndarray:
    """Upper ``U`` with ``U^T U = (H + λI)^-1``; λ = ``damp`` * mean(diag H)."""
    h = np.array(hessian, dtype=np.float64, copy=True)
    index = np.arange(h.shape[0])
    h[index, index] += damp * float(np.mean(np.diag(h)))
    from scipy.linalg import cho_factor, cho_solve

    h_inv = cho_solve(cho_factor(h, lower=True), np.eye(h.shape[0]))
    return np.linalg.cholesky((h_inv + h_inv.T) / 2.0).T


def sparsegpt_prune(weight: np.ndarray, hessian: np.ndarray, pattern, block: int = BLOCK,
                    damp: float = DAMP) -> tuple[np.ndarray, np.ndarray]:
    """The pruned (out x in) weight (float32, zeros where pruned) and its keep-mask."""
    w = np.array(weight, dtype=np.float64, copy=True)
    h = np.array(hessian, dtype=np.float64, copy=True)
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    u = inverse_cholesky(h, damp)
    if pattern.kind == "nm":  # N:M groups must not straddle two blocks
        block = max(pattern.m, block // pattern.m * pattern.m)
    mask = np.ones(w.shape, dtype=bool)
    cols = w.shape[1]
    for start in range(0, cols, block):
        stop = min(start + block, cols)
        errors = _prune_block(w, u, mask, start, stop, pattern)
        w[:, stop:] -= errors @ u[start:stop, stop:]
    w[~mask] = 0.0
    return w.astype(np.float32), mask


def _prune_block(w: np.ndarray, u: np.ndarray, mask: np.ndarray, start: int, stop: int,
                 pattern) -> np.ndarray:
    """Visit columns start..stop-1: choose the mask, prune, update the block's later
    columns in place; returns the block's errors (out x block) for the lazy update."""
    wb = np.ascontiguousarray(w[:, start:stop])  # updated here, written back at the end
    ub = u[start:stop, start:stop]
    diag = np.diag(ub)
    errors = np.zeros_like(wb)
    if pattern.kind == "unstructured":
        mask[:, start:stop] = keep_mask(wb ** 2 / diag[None, :] ** 2, pattern, group="layer")
    for j in range(stop - start):
        if pattern.kind == "nm" and j % pattern.m == 0:
            group = slice(j, min(j + pattern.m, stop - start))
            scores = wb[:, group] ** 2 / diag[None, group] ** 2
            mask[:, start + group.start:start + group.stop] = nm_keep(scores, pattern.n,
                                                                      pattern.m)
        column = wb[:, j]
        err = np.where(mask[:, start + j], 0.0, column) / diag[j]
        wb[:, j:] -= np.outer(err, ub[j, j:])
        errors[:, j] = err
    w[:, start:stop] = wb
    return errors
