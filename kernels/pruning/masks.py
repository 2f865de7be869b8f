"""Which weights to keep: the highest scores under a pattern, and the exact checks of a mask.

A pattern is ``suite.workloads.spmm_patterns.Pattern``: ``dense``, ``unstructured``
(``density`` = kept fraction) or ``nm`` (``n`` of every ``m`` consecutive weights along the
input dimension K, in every row; a last, shorter group of ``t`` keeps ``min(n, t)``).
For unstructured patterns the comparison group is the whole matrix (``group="layer"``,
magnitude pruning; SparseGPT passes one column block at a time) or each output row
(``group="row"``, Wanda); a group of ``s`` scores keeps exactly ``round(density * s)``.
Entries: ``keep_mask(scores, pattern, group)``, ``kept_per_group(pattern, shape, group)``,
``mask_violations(mask, pattern, group)``. Cost: one ``argpartition`` over the scores.
"""

from __future__ import annotations

import numpy as np

GROUPS = ("layer", "row")


def keep_mask(scores: np.ndarray, pattern, group: str = "layer") -> np.ndarray:
    """Boolean mask (same shape as the 2-D ``scores``) of the weights to keep."""
    if group not in GROUPS:
        raise ValueError(f"group {group!r}; allowed: {', '.join(GROUPS)}")
    if pattern.kind == "dense":
        return np.ones(scores.shape, dtype=bool)
    if pattern.kind == "nm":
        return nm_keep(scores, pattern.n, pattern.m)
    if pattern.kind != "unstructured":
        raise ValueError(f"pattern {pattern.label}; allowed: dense, unstructured(D), N:M")
    if group == "row":
        return _top_per_row(scores, pattern.density)
    flat = _top_per_row(scores.reshape(1, -1), pattern.density)
    return flat.reshape(scores.shape)


def _top_per_row(scores: np.ndarray, density: float) -> np.ndarray:
    rows, cols = scores.shape
    keep = int(round(density * cols))
    mask = np.zeros((rows, cols), dtype=bool)
    if keep >= cols:
        mask[:] = True
    elif keep > 0:
        top = np.argpartition(scores, cols - keep, axis=1)[:, cols - keep:]
        np.put_along_axis(mask, top, True, axis=1)
    return mask


def nm_keep(scores: np.ndarray, n: int, m: int) -> np.ndarray:
    """Keep the ``n`` highest of every ``m`` consecutive scores along each row."""
    rows, k = scores.shape
    groups = -(-k // m)
    padded = np.full((rows, groups * m), -np.inf)
    padded[:, :k] = scores
    grouped = padded.reshape(rows, groups, m)
    top = np.argpartition(grouped, m - n, axis=2)[:, :, m - n:] if n < m else None
    mask = np.ones_like(grouped, dtype=bool)
    if top is not None:
        mask[:] = False
        np.put_along_axis(mask, top, True, axis=2)
    return mask.reshape(rows, groups * m)[:, :k]


def kept_per_group(pattern, shape: tuple[int, int], group: str = "layer") -> int:
    """How many weights a mask of ``shape`` keeps in total under ``pattern``."""
    rows, k = shape
    if pattern.kind == "dense":
        return rows * k
    if pattern.kind == "nm":
        full, tail = divmod(k, pattern.m)
        return rows * (full * pattern.n + min(pattern.n, tail))
    if group == "row":
        return rows * int(round(pattern.density * k))
    return int(round(pattern.density * rows * k))


def mask_violations(mask: np.ndarray, pattern, group: str = "layer") -> list[str]:
    """Why ``mask`` does not realise ``pattern`` exactly (an empty list when it does)."""
    problems = []
    if pattern.kind == "nm":
        rows, k = mask.shape
        groups = -(-k // pattern.m)
        padded = np.zeros((rows, groups * pattern.m), dtype=np.int64)
        padded[:, :k] = mask
        counts = padded.reshape(rows, groups, pattern.m).sum(axis=2)
        if counts.max(initial=0) > pattern.n:
            problems.append(f"a group of {pattern.m} keeps {counts.max()} > {pattern.n}")
    if group == "row" and pattern.kind == "unstructured":
        want = int(round(pattern.density * mask.shape[1]))
        bad = np.flatnonzero(mask.sum(axis=1) != want)
        if bad.size:
            problems.append(f"row {bad[0]} keeps {mask[bad[0]].sum()} != {want}")
    expected = kept_per_group(pattern, mask.shape, group)
    if int(mask.sum()) != expected:
        problems.append(f"keeps {int(mask.sum())} weights; the pattern keeps {expected}")
    return problems
