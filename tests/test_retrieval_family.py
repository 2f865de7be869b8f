"""The retrieval family: parameters, the generator, reference and checks, one small suite run."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from suite.errors import ParamError, UserError
from suite.registry import get_family
from suite.workload import Prepared
from suite.workloads import retrieval_check as rc
from suite.workloads.retrieval_data import Collection, QueryBatch, bm25_weights, token_counts
from suite.workloads.retrieval_gen import GeneratorSpec, generate_docs, generate_queries


def instance(**params):
    return get_family("retrieval").instantiate(params, seed=0)


def test_defaults_resolve_to_a_generated_collection_with_generated_queries():
    inst = instance(docs=50)
    assert inst.params["queries"] == "generated" and inst.label == "generated 50 batch 64"


@pytest.mark.parametrize("params, field", [
    ({"collection": "generated", "queries": "known-item"}, "queries"),
    ({"collection": "plays", "queries": "generated"}, "queries"),
    ({"weights": "bm25"}, "weights"),
    ({"docs": 3}, "docs"),
    ({"collection": "web"}, "collection"),
])
def test_mistakes_name_the_field(params, field):
    with pytest.raises(ParamError) as err:
        instance(**params)
    assert err.value.field == field


def test_per_query_needs_batch_one():
    inst = instance(docs=50, batch=4)
    with pytest.raises(UserError, match="batch: \\[1\\]"):
        inst.batches(inst.build_inputs(), 3, "per_query")


def test_generator_is_seeded_and_matches_its_sizes():
    spec = GeneratorSpec()
    a, _ = generate_docs(spec, 2000, 7)
    b, _ = generate_docs(spec, 2000, 7)
    assert (a != b).nnz == 0 and a.has_sorted_indices and (a.data > 0).all()
    assert 100 < a.nnz / a.shape[0] < 135  # about doc_nnz = 120 non-zeros per document
    q = generate_queries(spec, a, 200, 7)
    assert 35 < q.nnz / q.shape[0] < 50 and q.shape[1] == spec.vocab


def test_batches_reference_and_work():
    inst = instance(docs=300, batch=5)
    coll = inst.build_inputs()
    batches = inst.batches(coll, 3)
    assert [len(b) for b in batches] == [5, 5, 5]
    ref = inst.reference(coll, batches[0])
    scores = (batches[0].matrix @ coll.docs.T).toarray()
    for i in range(5):
        want = np.lexsort((np.arange(300), -scores[i]))[:10]
        assert ref.ids[i].tolist() == want.tolist()
    work = inst.work(coll, batches[0])
    assert work.units == 5 and work.flops_useful < work.flops_dense


def tiny():
    docs = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 1, 0], [1, 0, 2], [0, 0, 1]], np.float32))
    coll = Collection(docs, "tiny")
    batch = QueryBatch(sp.csr_matrix(np.array([[1.0, 0, 1], [0, 0, 0]], np.float32)),
                       targets=np.array([2, -1]))
    return coll, batch


def test_check_accepts_the_exact_answer_and_reports_mrr():
    coll, batch = tiny()
    ref = rc.reference(coll, batch)
    assert ref.ids[0, :3].tolist() == [0, 2, 3] and (ref.ids[1] == -1).all()
    got = rc.check(ref.ids, ref, coll, Prepared(run=None, semantics={"safe": True}), batch)
    assert got.valid and got.accuracy == {"recall@10": 1.0, "mrr@10": 0.5}


@pytest.mark.parametrize("row, why", [
    ([1, 0, 2], "shares no term"),
    ([0, 0, 2], "twice"),
    ([0, -1, 2], "padding"),
    ([0, 9, 2], "out of range"),
])
def test_check_refuses_malformed_answers(row, why):
    coll, batch = tiny()
    ref = rc.reference(coll, batch)
    ids = np.full((2, 10), -1)
    ids[0, :3] = row
    assert why in rc.check(ids, ref, coll, None, batch).reason


def test_a_safe_kernel_that_misses_a_document_fails_an_approximate_one_reports_recall():
    coll, batch = tiny()
    ref = rc.reference(coll, batch)
    ids = ref.ids.copy()
    ids[0, 1:] = -1  # only the best document
    approximate = rc.check(ids, ref, coll, Prepared(run=None), batch)
    assert approximate.valid and approximate.accuracy["recall@10"] == pytest.approx(1 / 3)
    assert not rc.check(ids, ref, coll, Prepared(run=None, semantics={"safe": True}),
                        batch).valid


def test_a_safe_kernel_may_swap_documents_of_equal_score():
    coll, batch = tiny()
    ref = rc.reference(coll, batch)
    ids = ref.ids.copy()
    ids[0, :2] = [2, 0]  # documents 0 and 2 are identical: equal scores
    assert rc.check(ids, ref, coll, Prepared(run=None, semantics={"safe": True}), batch).valid


def test_bm25_weights_follow_lucene():
    counts = token_counts([[0, 1, 2], [0, 0, 3], [4]], vocab=5)
    w = bm25_weights(counts).toarray()
    idf_a, idf_b = np.log1p((3 - 2 + 0.5) / 2.5), np.log1p(2.5 / 1.5)
    norm = 1.5 * (0.25 + 0.75 * 3 / (7 / 3))
    assert w[0, 0] + w[0, 1] == pytest.approx((idf_a + idf_b) / (1 + norm), rel=1e-6)


RUN = """
name: rt
defaults: {warmup: 0, min_repeats: 2, max_repeats: 3, min_time_s: 0.0, seed: 0}
workloads:
  - family: retrieval
    grid: {docs: 400, batch: 4, vocab: 2000, doc_nnz: 30, query_nnz: 10}
    measure: {batches: 2}
  - family: retrieval
    grid: {docs: 400, batch: 1, vocab: 2000, doc_nnz: 30, query_nnz: 10}
    measure: {scenario: per_query, queries: 4}
systems:
  - {device: cpu, kernel: exact}
  - {device: cpu, kernel: block-max}
  - {device: cpu, kernel: block-max, options: {alpha: 0.5}}
  - {device: cpu, kernel: daat}
  - {device: cpu, kernel: bm25s}
  - {device: cpu, kernel: "null"}
"""


def test_a_suite_runs_shares_one_index_and_draws_the_pareto_plot(tmp_path):
    from suite.config import parse_suite
    from suite.frames import records_frame
    from suite.plan import make_plan
    from suite.records import read_records
    from suite.runner import RECORDS_FILE, run_plan
    from suite.workloads.retrieval_plot import draw

    cfg = parse_suite(RUN, "rt.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path, isolation="none")
    records = read_records(tmp_path / RECORDS_FILE)
    by = {(r.scenario, r.system): r for r in records}
    assert by[("per_query", "cpu/daat")].status == "ok"
    assert by[("batch", "cpu/block-max")].accuracy["recall@10"] == 1.0
    assert by[("batch", "cpu/bm25s")].status == "skipped"
    assert by[("batch", "cpu/daat")].build_key == by[("batch", "cpu/block-max")].build_key
    assert by[("batch", "cpu/daat")].artifact_shared or by[("batch", "cpu/block-max")].artifact_shared
    paths = draw(records_frame(records), tmp_path)
    assert any(p.name.endswith(".png") for p in paths)
    assert "block-max" in (tmp_path / "retrieval_cost_growth.md").read_text()
