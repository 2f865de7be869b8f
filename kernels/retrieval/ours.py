"""Our compiled retrieval indexes (numba), registered on ``cpu``.

- ``seismic-numba``: our Seismic re-implementation (``seismic_index``): approximate;
  build options ``n_postings``, ``centroid_fraction``, ``summary_energy``, ``doc_cut``;
  query options ``query_cut``, ``heap_factor``.
- ``block-max``: block-max pruning, best block first (after BMP; ``blockmax_search``) over
  the docid-blocked inverted index (``block_index``): safe with ``alpha: 1.0`` and
  ``budget: 0``; approximate with ``alpha`` < 1 or a ``budget`` (blocks evaluated per
  query); build options ``block`` (documents per block) and ``reorder`` (cluster first).
- ``daat``: document-at-a-time over the same index, skipping blocks by their block-max
  bound (``daat_search``): safe with ``alpha: 1.0``, approximate below.
A batch of one query runs on one thread; a larger batch splits its queries over numba's
threads. Indexes are built once per build group (``ctx.shared``, keyed by build options).
"""

from __future__ import annotations

from kernels.retrieval.options import OptionSpec, build_key, csr_arrays
from suite.registry import register_kernel
from suite.workload import Prepared
from suite.workloads.retrieval_topk import K

SEISMIC = OptionSpec(
    build={"n_postings": 4000, "centroid_fraction": 0.1, "summary_energy": 0.4, "doc_cut": 15},
    query={"query_cut": 10, "heap_factor": 0.9})


@register_kernel("retrieval", "seismic-numba", device="cpu", needs=("numba",),
                 description="ours: Seismic (blocked lists + summaries), numba; approximate")
def seismic_numba(instance, collection, ctx):
    from kernels.retrieval.seismic_index import SeismicIndex

    build, query = SEISMIC.resolve("seismic-numba", ctx.options)
    index = ctx.shared(build_key("seismic-numba", build),
                       lambda: SeismicIndex.build(collection.docs, **build),
                       nbytes=lambda ix: ix.nbytes)

    def run(q):
        return index.search(*q, K, query["query_cut"], query["heap_factor"])

    return Prepared(run=run, put=csr_arrays, semantics={"safe": False},
                    info={"index": index.stats, **build, **query})


BLOCKS = {"block": 8, "reorder": True}  # 8: 2% of blocks pass the bound at 100k (32: 55%)
BLOCK_MAX = OptionSpec(build=dict(BLOCKS), query={"alpha": 1.0, "budget": 0})
DAAT = OptionSpec(build=dict(BLOCKS), query={"alpha": 1.0})


def _block_index(kernel, collection, ctx, build, query):
    """The docid-blocked index both kernels share (one build per block size and order)."""
    from kernels.retrieval.block_index import BlockIndex

    if build["block"] < 1 or not 0.0 < query["alpha"] <= 1.0 or query.get("budget", 0) < 0:
        raise ValueError(f"{kernel}: block >= 1, 0 < alpha <= 1 and budget >= 0; got "
                         f"{build['block']}, {query['alpha']}, {query.get('budget', 0)}")
    return ctx.shared(build_key("block-index", build),
                      lambda: BlockIndex.build(collection.docs, **build),
                      nbytes=lambda ix: ix.nbytes)


@register_kernel("retrieval", "block-max", device="cpu", needs=("numba",),
                 description="ours: block-max pruning, best block first (after BMP), numba; "
                             "safe at alpha 1, budget 0")
def block_max(instance, collection, ctx):
    build, query = BLOCK_MAX.resolve("block-max", ctx.options)
    index = _block_index("block-max", collection, ctx, build, query)

    def run(q):
        return index.search(*q, K, "best-first", query["alpha"], query["budget"])

    safe = query["alpha"] == 1.0 and query["budget"] == 0
    return Prepared(run=run, put=csr_arrays, semantics={"safe": safe},
                    info={"index": index.stats, **build, **query})


@register_kernel("retrieval", "daat", device="cpu", needs=("numba",),
                 description="ours: document-at-a-time with block-max skipping, numba; "
                             "safe at alpha 1")
def daat(instance, collection, ctx):
    build, query = DAAT.resolve("daat", ctx.options)
    index = _block_index("daat", collection, ctx, build, query)

    def run(q):
        return index.search(*q, K, "docid", query["alpha"])

    return Prepared(run=run, put=csr_arrays, semantics={"safe": query["alpha"] == 1.0},
                    info={"index": index.stats, **build, **query})
