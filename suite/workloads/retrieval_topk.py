"""Exact top-k with one tie rule everywhere: score descending, then document id ascending.

Only documents with a positive score are ranked (a document sharing no term with the query
is never returned, as by every inverted index); rows with fewer than ``k`` such documents
are padded with id -1 and score 0. Entry points: ``top_k_row(ids, scores, k)``,
``top_k_csr(scores, k)`` (one row of a sparse score matrix per query) and
``top_k_dense(scores, k)``. Cost per row of n scored documents: O(n) for the partition
plus O(c log c) to order the c candidates at or above the k-th score.
"""

from __future__ import annotations

import numpy as np

K = 10  # recall@10 is the family's metric


def top_k_row(ids: np.ndarray, scores: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of (ids, scores), best first; ties by the lower id; positive scores only."""
    keep = scores > 0
    ids, scores = ids[keep], scores[keep]
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        near = scores >= kth  # every document that can still win a tie at the k-th place
        ids, scores = ids[near], scores[near]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


def top_k_csr(matrix, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a scipy CSR score matrix (queries x documents): ids (int64, -1 padded)
    and scores (float64, 0 padded), each ``rows x k``."""
    rows = matrix.shape[0]
    out_ids = np.full((rows, k), -1, dtype=np.int64)
    out_scores = np.zeros((rows, k), dtype=np.float64)
    for i in range(rows):
        lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
        ids, scores = top_k_row(matrix.indices[lo:hi], matrix.data[lo:hi], k)
        out_ids[i, :len(ids)] = ids
        out_scores[i, :len(ids)] = scores
    return out_ids, out_scores


def top_k_dense(scores: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """``top_k_csr`` for a dense (queries x documents) score array."""
    rows, n = scores.shape
    out_ids = np.full((rows, k), -1, dtype=np.int64)
    out_scores = np.zeros((rows, k), dtype=np.float64)
    every = np.arange(n, dtype=np.int64)
    for i in range(rows):
        ids, best = top_k_row(every, scores[i], k)
        out_ids[i, :len(ids)] = ids
        out_scores[i, :len(ids)] = best
    return out_ids, out_scores
