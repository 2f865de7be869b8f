"""The retrieval family's inputs: a collection of sparse document vectors and query batches.

``Collection`` holds the documents (CSR, documents x vocabulary, float32, sorted indices,
positive values), their texts and tokens where the data is text (for bm25s), and makes
``QueryBatch`` objects (a CSR of queries, known-item targets, query tokens). Sources:
- ``generated``: ``retrieval_gen`` (seeded; collections of 100k documents and more are
  cached on disk through ``suite.data.cache.derived``);
- ``plays``: Gutenberg passages (``suite.data.text.passages``) encoded by SPLADE-tiny
  (``suite.data.splade``), or weighted by BM25 over the same WordPiece vocabulary;
  queries are known-item spans of the passages or held-out sentences of the evaluation
  plays (Hamlet, Macbeth), encoded the same way (cached on disk).
Main entries: ``load_collection(params, seed)``, ``Collection.queries(count, seed)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from suite.workloads import retrieval_gen as gen

CACHE_FROM_DOCS = 100_000  # generated collections this big are kept on disk
BM25_K1, BM25_B = 1.5, 0.75  # bm25s' defaults, so its scores and ours agree


@dataclass
class QueryBatch:
    """``matrix``: queries x vocabulary (CSR float32); ``targets``: the passage each
    known-item query was built from (-1: none); ``tokens``: query token ids as text (bm25s)."""

    matrix: sp.csr_matrix
    targets: np.ndarray | None = None
    tokens: list[list[str]] | None = None

    def __len__(self) -> int:
        return self.matrix.shape[0]


@dataclass
class Collection:
    docs: sp.csr_matrix
    name: str
    make_queries: Any = None            # (count, seed) -> QueryBatch
    tokens: list[list[str]] | None = None  # each document's token ids as text (bm25s)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def n_docs(self) -> int:
        return self.docs.shape[0]

    @property
    def vocab(self) -> int:
        return self.docs.shape[1]

    @cached_property
    def df(self) -> np.ndarray:
        """Documents holding each term."""
        return np.bincount(self.docs.indices, minlength=self.vocab).astype(np.int64)

    @cached_property
    def by_term64(self) -> sp.csr_matrix:
        """Vocabulary x documents in float64: the exact reference's operand (built once)."""
        return self.docs.T.tocsr().astype(np.float64)

    def queries(self, count: int, seed: int) -> QueryBatch:
        return self.make_queries(count, seed)


def describe(docs: sp.csr_matrix) -> dict[str, Any]:
    nnz = np.diff(docs.indptr)
    return {"docs": int(docs.shape[0]), "vocab": int(docs.shape[1]), "nnz": int(docs.nnz),
            "nnz_per_doc": float(nnz.mean()) if len(nnz) else 0.0,
            "bytes_csr": int(docs.data.nbytes + docs.indices.nbytes + docs.indptr.nbytes)}


def generated(params: dict[str, Any], seed: int) -> Collection:
    spec = gen.GeneratorSpec(vocab=params["vocab"], doc_nnz=params["doc_nnz"],
                             query_nnz=params["query_nnz"])
    docs = _generated_docs(spec, params["docs"], seed)

    def make(count: int, qseed: int) -> QueryBatch:
        return QueryBatch(gen.generate_queries(spec, docs, count, qseed))

    return Collection(docs, f"generated {params['docs']:,}", make, stats=describe(docs))


def _generated_docs(spec: gen.GeneratorSpec, n_docs: int, seed: int) -> sp.csr_matrix:
    if n_docs < CACHE_FROM_DOCS:
        return gen.generate_docs(spec, n_docs, seed)[0]
    from suite.data.cache import derived

    def build():
        docs = gen.generate_docs(spec, n_docs, seed)[0]
        return {"data": docs.data, "indices": docs.indices, "indptr": docs.indptr}

    key = {"spec": vars(spec), "docs": n_docs, "seed": seed, "generator": "retrieval-gen-1"}
    arrays = derived("retrieval-generated", key, build)
    docs = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                         shape=(n_docs, spec.vocab))
    docs.has_sorted_indices = True
    return docs


def bm25_weights(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Lucene BM25 document weights from term counts (documents x vocabulary): idf(t) *
    tf / (tf + k1 (1 - b + b dl / avgdl)), idf = ln(1 + (N - df + 0.5) / (df + 0.5))."""
    counts = counts.tocsr().astype(np.float64)
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / max(lengths.mean(), 1e-12))
    rows = np.repeat(np.arange(n), np.diff(counts.indptr))
    tf = counts.data
    counts.data = idf[counts.indices] * tf / (tf + norm[rows])
    out = counts.astype(np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def token_counts(id_lists: list[list[int]], vocab: int) -> sp.csr_matrix:
    """Texts x vocabulary term counts from token id lists."""
    rows = np.repeat(np.arange(len(id_lists)), [len(ids) for ids in id_lists])
    cols = np.concatenate([np.asarray(ids, np.int64) for ids in id_lists]) if id_lists else []
    m = sp.csr_matrix((np.ones(len(rows), np.float64), (rows, cols)),
                      shape=(len(id_lists), vocab))
    m.sum_duplicates()
    return m


def held_out_sentences(min_words: int = 6) -> list[str]:
    """Sentence-like spans of the evaluation plays (Hamlet, Macbeth): never in a passage."""
    from suite.data.text import split_text

    text = " ".join(split_text("evaluation").split())
    spans = [s.strip() for s in re.split(r"[.;:!?]", text)]
    return [s for s in spans if len(s.split()) >= min_words]
