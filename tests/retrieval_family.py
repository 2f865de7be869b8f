"""A family shaped like retrieval, for harness-contract tests: top-10 inner-product search.

``exact`` (the baseline) scores every document; ``pruned-index`` builds an index once per
build group through ``ctx.shared`` (documents sorted by norm) and scans only the first
``budget`` of them per query, so recall@10 (higher is better, in [0, 1]) falls with the
budget while the result stays *valid* (ten distinct, in-range ids). ``budget`` is a
query-time parameter: a sweep over it shares one build and one baseline timing.
"""

from __future__ import annotations

import numpy as np

from suite.family import AccuracyMetric, Param, at_least
from suite.registry import FamilySpec, register_family, register_kernel
from suite.workload import Check, Prepared, Work, WorkloadInstance

K = 10
INDEX_BUILDS: list[str] = []  # build keys of every index built, so tests can count builds


class SearchInstance(WorkloadInstance):
    family = "toy-search"

    def __init__(self, params, seed):
        self.params, self.seed = params, seed

    @property
    def label(self):
        return f"search docs={self.params['docs']} budget={self.params['budget']}"

    def build_inputs(self):
        rng = np.random.default_rng(self.seed)
        docs = rng.standard_normal((self.params["docs"], self.params["dim"]))
        docs *= rng.pareto(2.0, (self.params["docs"], 1)) + 0.1  # heavy-tailed norms
        return docs

    def batches(self, docs, count, scenario="batch"):
        rng = np.random.default_rng([self.seed, 3])
        rows = 1 if scenario == "per_query" else 8
        return [rng.standard_normal((rows, docs.shape[1])) for _ in range(count)]

    def reference(self, docs, queries):
        return _top_k(queries @ docs.T)

    def work(self, docs, queries):
        flops = 2.0 * queries.shape[0] * docs.size
        return Work(flops_dense=flops, flops_useful=flops, bytes_min=8.0 * docs.size,
                    units=queries.shape[0], unit_name="query")

    def check(self, output, reference, docs, prepared, batch=None):
        ids = np.asarray(output)
        ok = (ids.shape == reference.shape and bool(np.all((ids >= 0) & (ids < len(docs))))
              and all(len(set(row)) == K for row in ids.tolist()))
        if not ok:
            return Check(False, {}, {"ids": "shape, range or duplicates"}, "not 10 distinct ids")
        recall = float(np.mean([len(set(a) & set(b)) / K
                                for a, b in zip(ids.tolist(), reference.tolist(), strict=True)]))
        return Check(True, {"recall@10": recall}, {"distinct_in_range": True})


def _top_k(scores: np.ndarray) -> np.ndarray:
    """Top-10 ids per row, best first; ties broken by the lower id (stable sort)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :K]


def build(params, seed):
    return SearchInstance(params, seed)


PARAMS = {
    "docs": Param(int, 400, "documents", at_least(K)),
    "dim": Param(int, 16, "vector dimension", at_least(1)),
    "budget": Param(int, 400, "documents scanned per query", at_least(K), query=True),
}
register_family(FamilySpec(
    "toy-search", build, PARAMS, baseline_kernel="exact",
    accuracy=(AccuracyMetric("recall@10", higher_is_better=True, low=0.0, high=1.0),),
    description="top-10 inner-product search (retrieval-shaped test family)",
    scenarios=("batch", "per_query"), timed_scope="scoring and top-10 selection"))


@register_kernel("toy-search", "exact", device="cpu", description="scores every document")
def exact(instance, docs, ctx):
    return Prepared(run=lambda queries: _top_k(queries @ docs.T))


@register_kernel("toy-search", "pruned-index", device="cpu",
                 description="scans the budget's largest-norm documents (an index built once)")
def pruned_index(instance, docs, ctx):
    def make_index():
        INDEX_BUILDS.append(ctx.build_key)
        order = np.argsort(-np.linalg.norm(docs, axis=1), kind="stable")
        return order, np.ascontiguousarray(docs[order])

    order, sorted_docs = ctx.shared("norm-index", make_index,
                                    nbytes=lambda ix: ix[0].nbytes + ix[1].nbytes)
    budget = min(instance.params["budget"], len(docs))
    head = sorted_docs[:budget]

    def run(queries):
        return order[_top_k(queries @ head.T)]

    return Prepared(run=run)
