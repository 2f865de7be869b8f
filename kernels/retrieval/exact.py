"""Exact search: sparse matrix product, then top-10 selection (the family's baseline).

``exact`` (cpu, scipy): the query batch (CSR, float32) times the vocabulary x documents
matrix (CSR, built once: the inverted index with every posting) gives a sparse
queries x documents score matrix; ``retrieval_topk`` selects each row's top 10 (score
descending, lower id first). Cost per query: 2 FLOPs and 8 bytes per posting of its terms,
plus O(matched documents) for the selection. ``exact`` on ``cuda`` (CuPy): the documents
(CSR) times the dense query block on the GPU (cuSPARSE), then a sort of (score, -id)
keys per query on the GPU. Both accumulate in float32 and declare themselves safe.
"""

from __future__ import annotations

from suite.registry import register_kernel
from suite.workload import Prepared
from suite.workloads.retrieval_topk import K, top_k_csr

SAFE = {"safe": True}


@register_kernel("retrieval", "exact", device="cpu", needs=("scipy",),
                 description="scipy sparse product + top-10 selection (the baseline)")
def exact_cpu(instance, collection, ctx):
    by_term = ctx.shared(("by-term", "float32"), lambda: collection.docs.T.tocsr(),
                         nbytes=_csr_bytes)

    def run(queries):
        ids, _ = top_k_csr((queries @ by_term).tocsr(), K)
        return ids

    return Prepared(run=run, put=lambda batch: batch.matrix, semantics=SAFE,
                    info={"format": "inverted index as scipy CSR (vocab x docs)"})


def _csr_bytes(m) -> int:
    return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)


@register_kernel("retrieval", "exact", device="cuda", needs=("cupy",),
                 description="CuPy: documents (CSR) @ dense queries, then a GPU sort")
def exact_cuda(instance, collection, ctx):
    import cupy
    import cupyx.scipy.sparse as csp

    docs = ctx.shared(("docs-cupy",), lambda: csp.csr_matrix(collection.docs),
                      nbytes=lambda m: int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes))
    ids = cupy.arange(collection.n_docs, dtype=cupy.int64)

    def put(batch):
        return cupy.asarray(batch.matrix.T.toarray(order="C"), dtype=cupy.float32)

    def run(dense_queries):
        scores = (docs @ dense_queries).T  # queries x docs
        return _top_k_gpu(cupy, scores, ids)

    return Prepared(run=run, put=put, to_host=lambda out: cupy.asnumpy(out), semantics=SAFE)


def _top_k_gpu(cupy, scores, ids):
    """Per row, the K best of (score, -id) as one int64 key each: float32 bits of a
    non-negative score order like the score; ties go to the lower id; zero scores drop."""
    bits = cupy.ascontiguousarray(scores).view(cupy.int32).astype(cupy.int64)
    keys = (bits << 32) | (0xFFFFFFFF - ids)[None, :]
    best = -cupy.sort(-keys, axis=1)[:, :K]
    out = 0xFFFFFFFF - (best & 0xFFFFFFFF)
    return cupy.where((best >> 32) > 0, out, -1)
