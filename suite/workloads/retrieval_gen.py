"""Seeded SPLADE-like collections: topic mixtures over a BERT-sized vocabulary.

A document picks a topic, draws about ``doc_nnz`` distinct terms (``topic_share`` of them
from its topic's vocabulary, the rest from the global, heavy-tailed term popularity, as
SPLADE's expansion terms are) and gives each a log-normal weight, heavier for topical and
rare terms. A query is a noisy copy of a random "anchor" document: some of the anchor's
terms, drawn by weight, plus global expansion terms, about ``query_nnz`` in all, so every
query has near matches (MS MARCO queries have a relevant passage). Where each default
comes from is in docs/retrieval.md (the published MS MARCO SPLADE figures for the sizes;
our SPLADE-tiny encoding of the Gutenberg passages for the shapes of the distributions).

Entry points: ``GeneratorSpec``, ``generate_docs(spec, n_docs, seed) -> (csr, topics)``
and ``generate_queries(spec, docs, count, seed) -> csr``. Cost: one sort of the
``n_docs * doc_nnz`` (document, term) keys, about 40 bytes per non-zero at peak (1M
documents: ~5 GB, ~30 s on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

WEIGHT_MIN, WEIGHT_MAX = 0.01, 3.0  # SPLADE weights are log(1 + relu(logit)): small, positive


@dataclass(frozen=True)
class GeneratorSpec:
    """The generator's knobs (see the module docstring and docs/retrieval.md)."""

    vocab: int = 30522          # BERT WordPiece, the vocabulary of every SPLADE model
    doc_nnz: float = 120.0      # MS MARCO SPLADE: about 120 non-zeros per passage
    query_nnz: float = 43.0     # and about 43 per query
    nnz_sigma: float = 0.35     # log-normal spread of the per-text non-zero count
    topics: int = 1000
    topic_terms: int = 300      # vocabulary of one topic
    topic_share: float = 0.5    # share of a document's terms drawn from its topic
    zipf: float = 1.25          # exponent of the global term popularity (rank + offset)^-zipf
    zipf_offset: float = 60.0
    weight_mu: float = -0.55    # weights log(1 + x), x = exp(mu + boosts + sigma * N(0, 1))
    weight_sigma: float = 1.1
    topic_boost: float = 0.7    # topical terms weigh more (a passage's own words)
    idf_boost: float = 0.1      # per nat of inverse popularity above the median term
    anchor_share: float = 0.6   # share of a query's terms taken from its anchor document


def _popularity(spec: GeneratorSpec, rng: np.random.Generator) -> np.ndarray:
    """p_t: heavy-tailed global term probabilities over a random ranking of the vocabulary."""
    ranks = rng.permutation(spec.vocab)
    p = (ranks + spec.zipf_offset) ** -spec.zipf
    return p / p.sum()


def _topic_vocab(spec: GeneratorSpec, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """topics x topic_terms term ids, drawn without replacement with probability ~ sqrt(p_t)."""
    flat = np.sqrt(p)
    flat /= flat.sum()
    size = min(spec.topic_terms, spec.vocab)
    return np.stack([rng.choice(spec.vocab, size=size, replace=False, p=flat)
                     for _ in range(spec.topics)])


def _counts(mean: float, sigma: float, n: int, cap: int, rng) -> np.ndarray:
    """Per-text non-zero counts: log-normal with the given mean, clipped to [1, cap]."""
    raw = rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, n)
    return np.clip(np.rint(raw), 1, cap).astype(np.int64)


def _draw(cdf: np.ndarray, n: int, rng) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1)


def _weights(spec: GeneratorSpec, p: np.ndarray, terms: np.ndarray, topical: np.ndarray,
             rng) -> np.ndarray:
    idf = -np.log(p[terms]) - np.median(-np.log(p))
    mu = spec.weight_mu + spec.topic_boost * topical + spec.idf_boost * idf
    w = np.log1p(np.exp(mu + spec.weight_sigma * rng.standard_normal(len(terms))))
    return np.clip(w, WEIGHT_MIN, WEIGHT_MAX).astype(np.float32)


def _assemble(rows: np.ndarray, terms: np.ndarray, flag: np.ndarray, n_rows: int,
              vocab: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (row, term) pairs sorted by row then term: (indptr, indices, first flag)."""
    keys = rows * vocab + terms
    keys, first = np.unique(keys, return_index=True)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // vocab, minlength=n_rows), out=indptr[1:])
    return indptr, (keys % vocab).astype(np.int32), flag[first]


def generate_docs(spec: GeneratorSpec, n_docs: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """``n_docs`` documents (CSR, float32, sorted indices) and each one's topic."""
    rng = np.random.default_rng([seed, 101])
    p = _popularity(spec, rng)
    vocab_of = _topic_vocab(spec, p, rng)
    topic_cdf = np.cumsum(1.0 / np.arange(1, vocab_of.shape[1] + 1) ** 0.8)
    topic_cdf /= topic_cdf[-1]
    topics = rng.integers(0, spec.topics, n_docs)
    counts = _counts(spec.doc_nnz, spec.nnz_sigma, n_docs, spec.vocab // 4, rng)
    # a few extra draws make up for the duplicates that _assemble merges
    counts = np.minimum(np.rint(counts * 1.18).astype(np.int64), spec.vocab // 4)
    rows = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
    topical = rng.random(len(rows)) < spec.topic_share
    terms = np.empty(len(rows), dtype=np.int64)
    n_top = int(topical.sum())
    terms[topical] = vocab_of[topics[rows[topical]], _draw(topic_cdf, n_top, rng)]
    terms[~topical] = _draw(np.cumsum(p), len(rows) - n_top, rng)
    indptr, indices, flag = _assemble(rows, terms, topical, n_docs, spec.vocab)
    data = _weights(spec, p, indices, flag, rng)
    docs = sp.csr_matrix((data, indices, indptr), shape=(n_docs, spec.vocab))
    docs.has_sorted_indices = True
    return docs, topics


def generate_queries(spec: GeneratorSpec, docs: sp.csr_matrix, count: int,
                     seed: int) -> sp.csr_matrix:
    """``count`` queries, each a noisy copy of a random anchor document (see module doc)."""
    rng = np.random.default_rng([seed, 202])
    p = _popularity(spec, np.random.default_rng([seed, 101]))  # the collection's ranking
    anchors = rng.integers(0, docs.shape[0], count)
    sizes = _counts(spec.query_nnz, spec.nnz_sigma, count, spec.vocab // 8, rng)
    rows, terms, topical = [], [], []
    for i, (anchor, size) in enumerate(zip(anchors, sizes, strict=True)):
        lo, hi = docs.indptr[anchor], docs.indptr[anchor + 1]
        own, w = docs.indices[lo:hi], docs.data[lo:hi].astype(np.float64)
        take = min(len(own), int(np.rint(size * spec.anchor_share)))
        picked = rng.choice(own, size=take, replace=False, p=w / w.sum()) if take else own[:0]
        extra = _draw(np.cumsum(p), int(size) - take, rng)
        rows += [np.full(take + len(extra), i)]
        terms += [picked, extra]
        topical += [np.ones(take, bool), np.zeros(len(extra), bool)]
    indptr, indices, flag = _assemble(np.concatenate(rows), np.concatenate(terms).astype(np.int64),
                                      np.concatenate(topical), count, spec.vocab)
    data = _weights(spec, p, indices, flag, rng)
    queries = sp.csr_matrix((data, indices, indptr), shape=(count, spec.vocab))
    queries.has_sorted_indices = True
    return queries
