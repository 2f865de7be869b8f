"""The retrieval family: top-10 inner-product search over sparse (SPLADE-style) vectors.

An instance is a collection (``collection``: ``generated``, a seeded SPLADE-like generator
scalable from 10k to 1M+ documents, or ``plays``, Gutenberg passages encoded by the real
SPLADE-tiny model or weighted by BM25) and a query set; a timed call answers one batch
(``batch`` queries; one query per call in the ``per_query`` scenario). The reference is
the exact float64 top-10 (ties: lower id first); recall@10 is the primary metric, MRR@10
is reported on known-item queries. Every system builds its index once per build group
through ``ctx.shared`` (untimed; time and bytes recorded). Kernels: ``kernels.retrieval``.

Grid parameters: ``PARAMS``. Modules: ``retrieval_gen`` (generator), ``retrieval_data`` /
``retrieval_plays`` (collections and queries), ``retrieval_check`` (reference, checks),
``retrieval_topk`` (the tie rule), ``retrieval_plot`` (Pareto plot, cost-growth table).
Work of a call: FLOPs of the exhaustive term-at-a-time product (2 per posting of the
batch's terms; dense equivalent 2 x queries x docs x vocab), bytes of those postings.
"""

from __future__ import annotations

from typing import Any

from suite.errors import ParamError, UserError
from suite.family import AccuracyMetric, Param, at_least, one_of
from suite.registry import FamilySpec, register_family
from suite.workload import Check, Prepared, Work, WorkloadInstance
from suite.workloads import retrieval_check as rc
from suite.workloads.retrieval_data import Collection, QueryBatch, generated
from suite.workloads.retrieval_topk import K

COLLECTIONS = ("generated", "plays")
WEIGHTS = ("splade", "bm25")
QUERY_SETS = ("auto", "generated", "known-item", "held-out")

PARAMS = {
    "collection": Param(str, "generated", f"one of {', '.join(COLLECTIONS)}",
                        one_of(*COLLECTIONS)),
    "docs": Param(int, 10_000, "documents (generated, >= 10); plays: at most this many "
                  "passages, 0 = all", at_least(0)),
    "weights": Param(str, "splade", f"one of {', '.join(WEIGHTS)} (bm25: plays only)",
                     one_of(*WEIGHTS)),
    "queries": Param(str, "auto", f"one of {', '.join(QUERY_SETS)} (auto: generated for "
                     "generated, known-item for plays)", one_of(*QUERY_SETS)),
    "batch": Param(int, 64, "queries per timed call in the batch scenario; per_query groups "
                   "set 1 (one query per call), which also keeps their rows apart", at_least(1)),
    "vocab": Param(int, 30522, "generated: vocabulary size", at_least(16)),
    "doc_nnz": Param((int, float), 120.0, "generated: mean non-zeros per document",
                     at_least(1)),
    "query_nnz": Param((int, float), 43.0, "generated: mean non-zeros per query",
                       at_least(1)),
    "min_words": Param(int, 60, "plays: words per passage at least", at_least(1)),
}


class RetrievalInstance(WorkloadInstance):
    family = "retrieval"

    def __init__(self, params: dict[str, Any], seed: int):
        self.params, self.seed = params, seed

    @property
    def label(self) -> str:
        p = self.params
        if p["collection"] == "generated":
            what = f"generated {_count(p['docs'])}"
        else:
            what = f"plays {_count(p['docs']) if p['docs'] else 'all'} {p['weights']} {p['queries']}"
        return f"{what} batch {p['batch']}"

    def build_inputs(self) -> Collection:
        if self.params["collection"] == "generated":
            return generated(self.params, self.seed)
        from suite.workloads.retrieval_plays import plays_collection

        return plays_collection(self.params, self.seed)

    def batches(self, inputs: Collection, count: int, scenario: str = "batch") -> list:
        rows = self.params["batch"]
        if scenario == "per_query" and rows != 1:
            raise UserError(f"retrieval: scenario per_query feeds one query per call; set "
                            f"grid batch: [1] in that group (got {rows})")
        pool = inputs.queries(count * rows, self.seed)
        return [_slice(pool, i * rows, (i + 1) * rows) for i in range(count)]

    def reference(self, inputs: Collection, batch: QueryBatch) -> rc.Reference:
        return rc.reference(inputs, batch)

    def work(self, inputs: Collection, batch: QueryBatch) -> Work:
        postings = float(inputs.df[batch.matrix.indices].sum())
        rows = len(batch)
        return Work(flops_dense=2.0 * rows * inputs.n_docs * inputs.vocab,
                    flops_useful=2.0 * postings,
                    bytes_min=8.0 * postings + 8.0 * batch.matrix.nnz + 8.0 * rows * K,
                    units=float(rows), unit_name="query")

    def check(self, output: Any, reference: rc.Reference, inputs: Collection,
              prepared: Prepared, batch: Any = None) -> Check:
        return rc.check(output, reference, inputs, prepared, batch)


def _count(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def _slice(pool: QueryBatch, lo: int, hi: int) -> QueryBatch:
    matrix = pool.matrix[lo:hi]
    matrix.sort_indices()
    targets = None if pool.targets is None else pool.targets[lo:hi]
    tokens = None if pool.tokens is None else pool.tokens[lo:hi]
    return QueryBatch(matrix, targets, tokens)


def build(params: dict[str, Any], seed: int) -> RetrievalInstance:
    """One grid point; the checks across fields are made here."""
    params = dict(params)
    generated_ = params["collection"] == "generated"
    if params["queries"] == "auto":
        params["queries"] = "generated" if generated_ else "known-item"
    if generated_ and params["queries"] != "generated":
        raise ParamError("queries", params["queries"], "generated (or auto) for a generated "
                         "collection")
    if not generated_ and params["queries"] == "generated":
        raise ParamError("queries", params["queries"], "known-item or held-out for plays")
    if generated_ and params["weights"] != "splade":
        raise ParamError("weights", params["weights"], "splade for a generated collection")
    if generated_ and params["docs"] < K:
        raise ParamError("docs", params["docs"], f"at least {K} for a generated collection")
    return RetrievalInstance(params, seed)


def plot(frame, out_dir):
    """Lazy import: matplotlib only when reports are drawn."""
    from suite.workloads.retrieval_plot import draw

    return draw(frame, out_dir)


register_family(FamilySpec(
    name="retrieval", build=build, params=PARAMS, baseline_kernel="exact",
    accuracy=(AccuracyMetric("recall@10", higher_is_better=True, low=0.0, high=1.0,
                             description="overlap with the exact float64 top-10"),
              AccuracyMetric("mrr@10", higher_is_better=True, low=0.0, high=1.0,
                             description="known-item queries: 1 / rank of the source passage")),
    timed_scope="top-10 search of one query batch already in the system's own query format "
                "(index built once, untimed)",
    description="top-10 inner-product search over sparse document vectors (SPLADE, BM25)",
    scenarios=("batch", "per_query"), plot=plot))
