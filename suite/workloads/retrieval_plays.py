"""The real-text collection: Gutenberg passages encoded by SPLADE-tiny, or weighted by BM25.

Passages come from ``suite.data.text.passages(min_words)`` (whole speeches of 31 plays,
about 90 words each at ``min_words=60``), their SPLADE vectors from
``suite.data.splade.encode_passages`` (the data layer's cache), their BM25 weights from
``retrieval_data.bm25_weights`` over the same WordPiece tokens. Query sets:
``known-item`` (each passage's longest sentence-like span, ``known_item_queries``: MRR@10
against that passage) and ``held-out`` (sentences of Hamlet and Macbeth, which no passage
holds). Queries are encoded with the same model (SPLADE) or as the set of their tokens
(BM25, weight 1 each, so the inner product is the BM25 score); encodings are cached on
disk. Main entry: ``plays_collection(params, seed)``. Cost: the first run encodes every
passage (about 0.1 s each on one core), later runs read the cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from suite.workloads.retrieval_data import (
    Collection,
    QueryBatch,
    bm25_weights,
    describe,
    held_out_sentences,
    token_counts,
)

MODEL = "splade-tiny"


def plays_collection(params: dict[str, Any], seed: int) -> Collection:
    from suite.data.splade import encode_passages, load_splade
    from suite.data.text import known_item_queries, passages

    limit = params["docs"] or None
    items = passages(params["min_words"])[:limit]
    tokenizer = load_splade(MODEL).tokenizer
    ids = [tokenizer.encode(p.text) for p in items]
    vocab = load_splade(MODEL).model.config.vocab_size
    if params["weights"] == "splade":
        docs = encode_passages(MODEL, min_words=params["min_words"], limit=limit)[0]
        docs = _clean(docs)
    else:
        docs = bm25_weights(token_counts(ids, vocab))
    if params["queries"] == "held-out":
        pool = [(text, -1) for text in held_out_sentences()]
    else:
        pool = known_item_queries(items)

    def make(count: int, qseed: int) -> QueryBatch:
        rng = np.random.default_rng([qseed, 303])
        picks = rng.choice(len(pool), size=count, replace=count > len(pool))
        texts = [pool[i][0] for i in picks]
        targets = np.array([pool[i][1] for i in picks], dtype=np.int64)
        matrix, tokens = _encode_queries(texts, params["weights"], tokenizer, vocab)
        return QueryBatch(matrix, targets, tokens)

    name = f"plays {len(items):,} {params['weights']} {params['queries']}"
    return Collection(docs, name, make, [[str(i) for i in row] for row in ids],
                      stats={**describe(docs), "mean_words": float(np.mean(
                          [len(p.text.split()) for p in items])) if items else 0.0})


def _clean(docs: sp.csr_matrix) -> sp.csr_matrix:
    """float32, positive entries only, sorted indices (the family's document contract)."""
    docs = sp.csr_matrix(docs, dtype=np.float32)
    docs.data[docs.data < 0] = 0
    docs.eliminate_zeros()
    docs.sort_indices()
    return docs


def _encode_queries(texts: list[str], weights: str, tokenizer, vocab: int):
    unique = [sorted(set(tokenizer.encode(t))) for t in texts]
    tokens = [[str(i) for i in row] for row in unique]
    if weights == "bm25":
        matrix = token_counts(unique, vocab).astype(np.float32)
    else:
        matrix = _clean(_splade_queries(texts))
    return matrix, tokens


def _splade_queries(texts: list[str]) -> sp.csr_matrix:
    from suite.data.cache import derived
    from suite.data.models import model_identity
    from suite.data.splade import load_splade
    from suite.workload import stable_hash

    def build():
        m = load_splade(MODEL).encode(texts)
        return {"data": m.data, "indices": m.indices, "indptr": m.indptr,
                "shape": np.array(m.shape)}

    key = {"model": model_identity(MODEL), "texts": stable_hash(texts, 20), "n": len(texts)}
    arrays = derived("retrieval-queries", key, build)
    return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                         shape=tuple(int(s) for s in arrays["shape"]))
