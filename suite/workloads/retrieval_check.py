"""The retrieval family's reference, checks and metrics.

``reference(collection, batch)``: the exact top-10 by inner product in float64 (a sparse
product of the queries with the vocabulary x documents matrix, then ``retrieval_topk``:
score descending, id ascending, positive scores only). ``check(...)`` accepts an output of
``queries x 10`` int ids (-1 padding at the end of a row) when every id is distinct, in
range and has a positive exact score; it reports recall@10 (mean over queries with a
non-empty reference of |returned & exact| / |exact|) and, for known-item queries, MRR@10.
A kernel that declares ``semantics={"safe": True}`` must also return the exact top-10:
position by position, the exact score of what it returned equals the reference's, to
``SAFE_TOLERANCE`` of the row's best score (so float32 rounding that swaps two documents
of equal score is accepted, a missed document is not). Cost: the reference reads every
posting of the batch's terms once; a check recomputes 10 exact scores per query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.workload import Check
from suite.workloads.retrieval_topk import K, top_k_csr

SAFE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Reference:
    ids: np.ndarray      # queries x K, int64, -1 padded
    scores: np.ndarray   # queries x K, float64, 0 padded


def reference(collection, batch) -> Reference:
    scores = (batch.matrix.astype(np.float64) @ collection.by_term64).tocsr()
    ids, best = top_k_csr(scores, K)
    return Reference(ids, best)


def exact_scores(collection, batch, ids: np.ndarray) -> np.ndarray:
    """Float64 inner products of each query with the documents it was answered (0 for -1)."""
    out = np.zeros(ids.shape, np.float64)
    queries = batch.matrix.astype(np.float64)
    for i in range(ids.shape[0]):
        found = ids[i] >= 0
        if found.any():
            rows = collection.docs[ids[i][found]].astype(np.float64)
            out[i, found] = (rows @ queries[i].T).toarray().ravel()
    return out


def shape_problem(ids: np.ndarray, ref: Reference, n_docs: int) -> str:
    """Why ``ids`` is not a well-formed answer, or ''."""
    if ids.shape != ref.ids.shape or not np.issubdtype(ids.dtype, np.integer):
        return f"output {ids.dtype} {ids.shape}; expected int ids {ref.ids.shape}"
    if ((ids < -1) | (ids >= n_docs)).any():
        return "an id out of range"
    found = ids >= 0
    if (found[:, 1:] & ~found[:, :-1]).any():
        return "-1 padding before a returned id"
    for row in ids:
        kept = row[row >= 0]
        if len(np.unique(kept)) != len(kept):
            return "a document returned twice for one query"
    return ""


def recall(ids: np.ndarray, ref: Reference) -> float:
    values = []
    for got, want in zip(ids, ref.ids, strict=True):
        want = want[want >= 0]
        if len(want):
            values.append(len(np.intersect1d(got[got >= 0], want)) / len(want))
    return float(np.mean(values)) if values else 1.0


def mrr(ids: np.ndarray, targets: np.ndarray) -> float:
    ranks = [np.flatnonzero(row == t) for row, t in zip(ids, targets, strict=True) if t >= 0]
    return float(np.mean([1.0 / (r[0] + 1) if len(r) else 0.0 for r in ranks])) if ranks else 0.0


def check(output, ref: Reference, collection, prepared, batch) -> Check:
    ids = np.asarray(output.ids if isinstance(output, Reference) else output)  # null system
    problem = shape_problem(ids, ref, collection.n_docs)
    if problem:
        return Check(False, {}, {"well_formed": problem}, problem)
    exact = exact_scores(collection, batch, ids)
    if (exact[ids >= 0] <= 0).any():
        why = "returned a document that shares no term with its query"
        return Check(False, {}, {"positive_scores": why}, why)
    accuracy = {"recall@10": recall(ids, ref)}
    if batch.targets is not None and (batch.targets >= 0).any():
        accuracy["mrr@10"] = mrr(ids, batch.targets)
    checks = {"well_formed": True, "positive_scores": True}
    if prepared is not None and prepared.semantics.get("safe"):
        gap = _safe_gap(exact, ids, ref)
        checks["safe_top10"] = {"max_score_gap": gap, "max": SAFE_TOLERANCE}
        if gap > SAFE_TOLERANCE:
            return Check(False, accuracy, checks, f"a safe mode missed the exact top-10 "
                                                  f"(score gap {gap:.3g} of the best score)")
    return Check(True, accuracy, checks)


def _safe_gap(exact: np.ndarray, ids: np.ndarray, ref: Reference) -> float:
    """Largest |returned score - reference score| per position, relative to the row's best;
    a missing or extra result counts as a gap of 1."""
    if ((ids >= 0).sum(axis=1) != (ref.ids >= 0).sum(axis=1)).any():
        return 1.0
    best = np.maximum(ref.scores[:, :1], 1e-300)
    return float(np.max(np.abs(exact - ref.scores) / best, initial=0.0))
