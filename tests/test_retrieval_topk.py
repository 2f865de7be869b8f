"""The one tie rule (score descending, then lower id), positive scores only, -1 padding."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from suite.workloads.retrieval_topk import top_k_csr, top_k_dense, top_k_row


def test_ties_go_to_the_lower_id_and_zero_scores_are_never_returned():
    scores = np.array([0.0, 2.0, 1.0, 2.0, 0.0, 1.0, 1.0])
    ids, best = top_k_row(np.arange(7), scores, k=4)
    assert ids.tolist() == [1, 3, 2, 5]
    assert best.tolist() == [2.0, 2.0, 1.0, 1.0]


def test_a_tie_across_the_kth_place_keeps_the_lowest_ids():
    scores = np.ones(50)
    ids, _ = top_k_row(np.arange(50)[::-1].copy(), scores, k=10)
    assert ids.tolist() == list(range(10))


def test_rows_with_few_matches_are_padded_and_empty_rows_are_all_padding():
    m = sp.csr_matrix(np.array([[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]))
    ids, best = top_k_csr(m, k=3)
    assert ids.tolist() == [[1, -1, -1], [-1, -1, -1]]
    assert best.tolist() == [[3.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_dense_and_sparse_agree():
    rng = np.random.default_rng(0)
    dense = np.round(rng.random((5, 200)) * 4) / 4  # many exact ties
    dense[dense < 0.5] = 0
    a = top_k_dense(dense, 10)
    b = top_k_csr(sp.csr_matrix(dense), 10)
    assert (a[0] == b[0]).all() and np.allclose(a[1], b[1])
