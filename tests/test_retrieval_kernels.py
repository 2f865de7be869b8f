"""Retrieval kernels: safe modes return exactly the exact top-10 (ties and empty queries
included), approximate modes return valid answers with their recall, peers skip cleanly."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.sparse as sp

import kernels.retrieval.exact as exact
import kernels.retrieval.ours as ours
import kernels.retrieval.peers as peers
from suite.context import KernelContext
from suite.devices import CpuDevice
from suite.errors import Unsupported
from suite.workloads import retrieval_check as rc
from suite.workloads.retrieval_data import Collection, QueryBatch
from suite.workloads.retrieval_gen import GeneratorSpec, generate_docs, generate_queries


def tied_collection(seed: int = 0):
    """Dyadic weights (sums are exact in any order) and duplicated documents: many ties."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 5, (150, 40)) * (rng.random((150, 40)) < 0.15) / 4.0
    docs = np.vstack([base, base[::3], base[::7]])  # duplicates at higher ids
    queries = rng.integers(0, 3, (12, 40)) * (rng.random((12, 40)) < 0.3) / 2.0
    queries[3] = 0.0                     # an empty query
    queries[4] = 0.0
    queries[4, 39] = 1.0                 # a query on a term no document may hold
    docs[:, 39] = 0.0
    queries[5] = 0.0
    queries[5, 0] = 1.0                  # a query matching few documents
    coll = Collection(sp.csr_matrix(docs.astype(np.float32)), "tied")
    return coll, QueryBatch(sp.csr_matrix(queries.astype(np.float32)))


def prepare(kernel, coll, options=None):
    ctx = KernelContext(device=CpuDevice("cpu"), options=options or {})
    return kernel(None, coll, ctx)


def answer(prepared, batch, one_at_a_time=False):
    if not one_at_a_time:
        return np.asarray(prepared.run(prepared.put(batch)))
    rows = [QueryBatch(batch.matrix[i]) for i in range(len(batch))]
    return np.vstack([prepared.run(prepared.put(b)) for b in rows])


SAFE = [(exact.exact_cpu, {}), (ours.block_max, {}), (ours.block_max, {"block": 3}),
        (ours.block_max, {"reorder": False}), (ours.daat, {}), (ours.daat, {"block": 5})]


@pytest.mark.parametrize("one", [False, True], ids=["batch", "per-query"])
@pytest.mark.parametrize("kernel, options", SAFE, ids=lambda v: getattr(v, "__name__", str(v)))
def test_safe_modes_return_exactly_the_exact_top10(kernel, options, one):
    coll, batch = tied_collection()
    ref = rc.reference(coll, batch)
    prepared = prepare(kernel, coll, options)
    assert prepared.semantics["safe"]
    ids = answer(prepared, batch, one)
    assert ids.tolist() == ref.ids.tolist()
    assert (ids[3] == -1).all() and (ids[4] == -1).all()
    assert rc.check(ids, ref, coll, prepared, batch).valid


def generated(n=3000, queries=40):
    spec = GeneratorSpec(vocab=3000, doc_nnz=40, query_nnz=15)
    docs, _ = generate_docs(spec, n, 1)
    return Collection(docs, "gen"), QueryBatch(generate_queries(spec, docs, queries, 1))


@pytest.mark.parametrize("kernel, options", SAFE[1:], ids=lambda v: getattr(v, "__name__", str(v)))
def test_safe_modes_on_a_generated_collection(kernel, options):
    coll, batch = generated()
    ref = rc.reference(coll, batch)
    assert answer(prepare(kernel, coll, options), batch).tolist() == ref.ids.tolist()


APPROXIMATE = [(ours.block_max, {"alpha": 0.7}), (ours.block_max, {"budget": 40}),
               (ours.daat, {"alpha": 0.7}),
               (ours.seismic_numba, {"n_postings": 200, "query_cut": 3, "heap_factor": 1.0})]


@pytest.mark.parametrize("kernel, options", APPROXIMATE, ids=lambda v: str(v))
def test_approximate_modes_are_valid_and_report_their_recall(kernel, options):
    coll, batch = generated()
    ref = rc.reference(coll, batch)
    prepared = prepare(kernel, coll, options)
    assert not prepared.semantics["safe"]
    for one in (False, True):
        check = rc.check(answer(prepared, batch, one), ref, coll, prepared, batch)
        assert check.valid and 0.3 < check.accuracy["recall@10"] <= 1.0


def test_seismic_numba_reaches_high_recall_with_generous_settings():
    coll, batch = generated()
    ref = rc.reference(coll, batch)
    prepared = prepare(ours.seismic_numba, coll, {"query_cut": 15, "heap_factor": 0.5})
    ids = answer(prepared, batch)
    assert rc.recall(ids, ref) > 0.97
    assert (answer(prepare(ours.seismic_numba, *tied_collection()[:1]), tied_collection()[1])[3]
            == -1).all()


def test_options_are_checked_in_one_line():
    coll, _ = generated(200, 2)
    with pytest.raises(ValueError, match="unknown option 'alfa'; allowed: block .*alpha"):
        prepare(ours.daat, coll, {"alfa": 0.5})
    with pytest.raises(ValueError, match="option block=2.5; allowed: a int"):
        prepare(ours.block_max, coll, {"block": 2.5})
    with pytest.raises(ValueError, match="0 < alpha <= 1"):
        prepare(ours.block_max, coll, {"alpha": 1.5})


def test_bm25s_skips_collections_without_text():
    coll, _ = generated(200, 2)
    with pytest.raises(Unsupported, match="needs text"):
        prepare(peers.bm25s_peer, coll)


needs = {m: importlib.util.find_spec(m) is None for m in ("seismic", "bmp", "bm25s")}


@pytest.mark.skipif(needs["seismic"], reason="pyseismic-lsr not installed (pip install '.[retrieval]')")
def test_seismic_peer_is_valid_one_query_and_batched():
    coll, batch = generated()
    ref = rc.reference(coll, batch)
    prepared = prepare(peers.seismic_peer, coll, {"n_postings": 500, "query_cut": 10,
                                                  "heap_factor": 0.7})
    for one in (False, True):
        check = rc.check(answer(prepared, batch, one), ref, coll, prepared, batch)
        assert check.valid and check.accuracy["recall@10"] > 0.8


@pytest.mark.skipif(needs["bmp"], reason="bmp not installed (pip install '.[retrieval]')")
def test_bmp_peer_is_valid_up_to_its_integer_impacts():
    coll, batch = generated()
    ref = rc.reference(coll, batch)
    prepared = prepare(peers.bmp_peer, coll)
    check = rc.check(answer(prepared, batch), ref, coll, prepared, batch)
    assert check.valid and check.accuracy["recall@10"] > 0.8


@pytest.mark.skipif(needs["bm25s"], reason="bm25s not installed (pip install '.[retrieval]')")
def test_bm25s_matches_exact_search_over_bm25_weights():
    from suite.workloads.retrieval_data import bm25_weights, token_counts

    rng = np.random.default_rng(3)
    ids = [list(rng.integers(0, 300, rng.integers(5, 40))) for _ in range(400)]
    coll = Collection(bm25_weights(token_counts(ids, 300)), "bm25",
                      tokens=[[str(i) for i in row] for row in ids])
    unique = [sorted(set(rng.integers(0, 300, 6).tolist())) for _ in range(20)]
    batch = QueryBatch(token_counts(unique, 300).astype(np.float32),
                       tokens=[[str(i) for i in row] for row in unique])
    ref = rc.reference(coll, batch)
    prepared = prepare(peers.bm25s_peer, coll)
    check = rc.check(answer(prepared, batch), ref, coll, prepared, batch)
    assert check.valid and check.accuracy["recall@10"] > 0.99


def test_the_seismic_profile_answers_as_the_search_does_and_splits_its_cycles():
    from kernels.retrieval.options import csr_arrays
    from kernels.retrieval.seismic_index import SeismicIndex
    from kernels.retrieval.seismic_profile import PHASES, profile

    coll, batch = generated(queries=8)
    index = SeismicIndex.build(coll.docs, n_postings=200)
    queries = [csr_arrays(QueryBatch(batch.matrix[i])) for i in range(len(batch))]
    result = profile(index, queries, query_cut=5, heap_factor=0.9)  # raises if answers differ
    assert sum(result["share"].values()) == pytest.approx(1.0)
    assert set(result["share"]) == set(PHASES) and result["share"]["forward"] > 0
    counts = result["per_query"]
    assert counts["lists"] == 5 and counts["docs_scored"] > 0
    assert counts["forward_entries"] >= counts["docs_scored"]


def test_best_match_takes_the_largest_cut_product_and_skips_the_list_term_and_common_terms():
    from kernels.retrieval.seismic_build import best_match

    # document 0's top terms: 1 (0.5) and 2 (1.0). Candidate 0 holds term 1 with weight 2
    # (product 1.0); candidates 2 and 1 hold term 2 with weight 2 (2.0 each: a tie, so 1)
    top_idx, top_val = np.array([[1, 2, -1]]), np.array([[0.5, 1.0, 0.0]], np.float32)
    head = np.array([-1, 0, 2])  # term -> its first entry; entries chained by nxt
    nxt = np.array([-1, -1, 1])
    ent_c, ent_w = np.array([0, 2, 1]), np.array([2.0, 2.0, 2.0], np.float32)
    acc, seen = np.zeros(3), np.empty(3, np.int64)
    args = (top_idx, top_val, head, nxt, ent_c, ent_w, acc, seen)
    assert best_match(0, -1, None, *args) == 1
    assert not acc.any()  # the scratch is left zeroed for the next document
    assert best_match(0, 2, None, *args) == 0  # term 2 is the list's own term
    assert best_match(0, -1, np.array([False, False, True]), *args) == 0  # term 2 is common
    assert best_match(0, 2, np.array([False, True, False]), *args) == -1  # nothing shared
