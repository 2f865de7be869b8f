"""Peer retrieval systems on ``cpu``, each imported inside its kernel (missing: a skipped row).

- ``seismic``: pyseismic-lsr (Seismic, Rust). Build options as ``SEISMIC`` (the library's
  own names); query ``query_cut``, ``heap_factor``. A batch is a loop of ``index.search``
  on one thread (its ``search`` holds the GIL): pyseismic 0.5.4's multi-threaded
  ``batch_search`` returned hits whose score belongs to another document (5-15% of hits
  in our tests, at any ``num_threads``), so it runs only with ``batch_api: true``. Term ids go in as strings (``"42"``, the library's
  ``add_documents_by_id`` convention), ids come back as strings (parsed in the timed call).
- ``bmp``: Block-Max Pruning (Mallia et al., SIGIR 2024; the ``bmp`` package). It indexes
  integer impacts: document weights are ``round(w * scale)``, ``scale: 0`` (default) maps
  the largest weight to 255 (BMP keeps 8 bits: larger impacts saturate, and at scale 1000
  recall@10 fell to 0.28 in our tests); ``reorder`` feeds documents
  in our clustered order (BMP expects a docid-reordered collection). Query: ``alpha``,
  ``beta``. Its only in-memory search takes one query, so a batch is a loop (one thread).
- ``bm25s``: lexical BM25 (Lucene variant) over the passages' WordPiece tokens; text only.
Query conversion to each library's format happens in ``put`` (untimed).
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np

from kernels.retrieval.options import OptionSpec, build_key
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workload import Prepared
from suite.workloads.retrieval_topk import K

SEISMIC = OptionSpec(
    build={"n_postings": 4000, "centroid_fraction": 0.1, "summary_energy": 0.4, "doc_cut": 15,
           "min_cluster_size": 2, "max_fraction": 1.5},
    query={"query_cut": 10, "heap_factor": 0.9, "batch_api": False})
BMP = OptionSpec(build={"bsize": 32, "scale": 0.0, "compress_range": False, "reorder": True},
                 query={"alpha": 1.0, "beta": 1.0})
BM25S = OptionSpec(build={"k1": 1.5, "b": 0.75}, query={"threads": 0})


def run_quietly(fn):
    """Call ``fn`` with the process's stdout (fd 1) captured: Rust libraries print there.
    Returns (result, captured text)."""
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            result = fn()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        return result, sink.read().decode(errors="replace")


def _seismic_build(seismic, docs, build):
    dataset = seismic.SeismicDataset()
    dataset.add_documents_by_id([str(i) for i in range(docs.shape[0])],
                                docs.indices.astype(np.int64), docs.data.astype(np.float32),
                                docs.indptr.astype(np.int64))
    index, _ = run_quietly(lambda: seismic.SeismicIndex.build_from_dataset(dataset, **build))
    _, text = run_quietly(index.print_space_usage_byte)
    found = re.search(r"Total:\s*(\d+)\s*Bytes", text)
    return index, int(found.group(1)) if found else None


def _padded(hits: list) -> list[int]:
    ids = [int(h[2]) for h in hits[:K]]
    return ids + [-1] * (K - len(ids))


@register_kernel("retrieval", "seismic", device="cpu", needs=("seismic",),
                 description="pyseismic-lsr: Seismic (Rust); approximate")
def seismic_peer(instance, collection, ctx):
    import seismic

    build, query = SEISMIC.resolve("seismic", ctx.options)
    index, size = ctx.shared(build_key("seismic", build),
                             lambda: _seismic_build(seismic, collection.docs, build),
                             nbytes=lambda built: built[1] or 0)
    kind = seismic.get_seismic_string()
    cut, factor = query["query_cut"], query["heap_factor"]

    def put(batch):
        m = batch.matrix
        rows = [(np.array([str(t) for t in m.indices[m.indptr[i]:m.indptr[i + 1]]], dtype=kind),
                 m.data[m.indptr[i]:m.indptr[i + 1]].astype(np.float32)) for i in range(m.shape[0])]
        return np.array([str(i) for i in range(len(rows))], dtype=kind), rows

    def run(q):
        names, rows = q
        if query["batch_api"] and len(rows) > 1:
            hits = index.batch_search(names, [r[0] for r in rows], [r[1] for r in rows], K,
                                      cut, factor, num_threads=0)
        else:
            hits = [index.search("0", c, v, K, cut, factor) if len(c) else [] for c, v in rows]
        return np.array([_padded(h) for h in hits], dtype=np.int64)

    return Prepared(run=run, put=put, info={**build, **query, "index_bytes": size})


class _BmpIndex:
    """A BMP index file in a temporary folder (deleted with this object) and its Searcher."""

    def __init__(self, bmp, docs, build):
        from kernels.retrieval.reorder import cluster_order

        self.folder = tempfile.TemporaryDirectory(prefix="sparsecap-bmp-")
        path = os.path.join(self.folder.name, "index.bmp")
        indexer = bmp.Indexer(path, bsize=build["bsize"], compress_range=build["compress_range"])
        order = cluster_order(docs) if build["reorder"] else range(docs.shape[0])
        scale, dropped = build["scale"] or 255.0 / max(float(docs.data.max(initial=0)), 1e-30), 0
        for d in order:
            lo, hi = docs.indptr[d], docs.indptr[d + 1]
            impacts = np.rint(docs.data[lo:hi] * scale).astype(np.int64)
            dropped += int((impacts <= 0).sum())
            indexer.add_document(str(d), {str(t): int(v) for t, v in
                                          zip(docs.indices[lo:hi], impacts, strict=True) if v > 0})
        run_quietly(indexer.finish)
        self.searcher = bmp.Searcher(path)
        self.nbytes = os.path.getsize(path)
        self.dropped = dropped


@register_kernel("retrieval", "bmp", device="cpu", needs=("bmp",),
                 description="Block-Max Pruning (bmp, Rust): integer impacts; safe at alpha=beta=1 "
                             "up to their quantization")
def bmp_peer(instance, collection, ctx):
    import bmp

    build, query = BMP.resolve("bmp", ctx.options)
    index = ctx.shared(build_key("bmp", build), lambda: _BmpIndex(bmp, collection.docs, build),
                       nbytes=lambda ix: ix.nbytes)
    alpha, beta = query["alpha"], query["beta"]

    def put(batch):
        m = batch.matrix
        return [{str(t): float(v) for t, v in zip(m.indices[m.indptr[i]:m.indptr[i + 1]],
                                                  m.data[m.indptr[i]:m.indptr[i + 1]],
                                                  strict=True)} for i in range(m.shape[0])]

    def run(queries):
        out = np.full((len(queries), K), -1, dtype=np.int64)
        for i, q in enumerate(queries):
            if q:
                ids, _ = index.searcher.search(q, K, alpha, beta)
                out[i, :len(ids)] = [int(d) for d in ids]
        return out

    return Prepared(run=run, put=put, info={**build, **query,
                                            "impacts_rounded_to_zero": index.dropped})


@register_kernel("retrieval", "bm25s", device="cpu", needs=("bm25s",),
                 description="bm25s: lexical BM25 (Lucene) over the passages' tokens; text only")
def bm25s_peer(instance, collection, ctx):
    if collection.tokens is None:
        raise Unsupported("bm25s needs text; this collection is generated vectors (run it on "
                          "collection: plays)")
    import bm25s

    build, query = BM25S.resolve("bm25s", ctx.options)

    def make():
        retriever = bm25s.BM25(k1=build["k1"], b=build["b"], method="lucene")
        retriever.index(collection.tokens, show_progress=False)
        return retriever

    retriever = ctx.shared(build_key("bm25s", build), make, nbytes=_bm25s_bytes)
    known = retriever.vocab_dict

    def put(batch):
        return [[t for t in row if t in known] for row in batch.tokens]

    def run(tokens):
        docs, scores = retriever.retrieve(tokens, k=K, show_progress=False,
                                          n_threads=query["threads"])
        return np.where(scores > 0, docs, -1).astype(np.int64)

    return Prepared(run=run, put=put, info={**build, **query})


def _bm25s_bytes(retriever) -> int:
    scores = getattr(retriever, "scores", {}) or {}
    return int(sum(getattr(v, "nbytes", 0) for v in scores.values()))
