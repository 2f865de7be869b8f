"""Document reordering for block-max indexes: similar documents become neighbours.

Block-max pruning only prunes when a block's documents share their heavy terms, so the
documents are renumbered first (BMP uses recursive graph bisection; this is a cheaper
shallow clustering, as Seismic's blocking): ``clusters`` random documents are the seeds,
every document joins the seed with the largest inner product over both sides' ``cut``
heaviest terms (terms in more than ``common`` of the documents left out: they tell
nothing apart), and the new order is by cluster, then by heaviest term inside a cluster.
Main entry: ``cluster_order(docs, docs_per_cluster) -> old ids in the new order``.
Cost: documents x cut x (seeds sharing a term), with the common terms gone a few dozen.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from kernels import jit_cache
from kernels.retrieval.seismic_build import best_match, top_terms

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

CUT = 8          # heaviest terms per document that take part
COMMON = 0.02    # terms in more than this share of documents are left out


@nb.njit(cache=True)
def _seed_index(seeds, top_idx, top_val, skip, head, nxt, ent_c, ent_w):
    e = 0
    for j in range(len(seeds)):
        for c in range(top_idx.shape[1]):
            u = top_idx[seeds[j], c]
            if u >= 0 and not skip[u]:
                ent_c[e], ent_w[e], nxt[e] = j, top_val[seeds[j], c], head[u]
                head[u] = e
                e += 1


@nb.njit(parallel=True, cache=True)
def _assign(top_idx, top_val, skip, head, nxt, ent_c, ent_w, n_seeds, bounds, out):
    for c in prange(len(bounds) - 1):
        acc, seen = np.zeros(n_seeds, np.float64), np.empty(n_seeds, np.int64)
        for d in range(bounds[c], bounds[c + 1]):
            out[d] = best_match(d, -1, skip, top_idx, top_val, head, nxt, ent_c, ent_w, acc, seen)


def cluster_order(docs, docs_per_cluster: int = 64, seed: int = 0) -> np.ndarray:
    """Old document ids in the new order (see the module docstring)."""
    n, vocab = docs.shape
    top_idx = np.full((n, CUT), -1, np.int64)
    top_val = np.zeros((n, CUT), np.float32)
    top_terms(docs.indptr.astype(np.int64), docs.indices, docs.data, CUT, top_idx, top_val)
    skip = np.bincount(docs.indices, minlength=vocab) > COMMON * n
    n_seeds = max(1, n // docs_per_cluster)
    seeds = np.sort(np.random.default_rng(seed).choice(n, n_seeds, replace=False))
    head = np.full(vocab, -1, np.int64)
    size = n_seeds * CUT
    nxt, ent_c, ent_w = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.float32)
    _seed_index(seeds, top_idx, top_val, skip, head, nxt, ent_c, ent_w)
    cluster = np.empty(n, np.int64)
    bounds = np.linspace(0, n, 8 * nb.get_num_threads() + 1).round().astype(np.int64)
    _assign(top_idx, top_val, skip, head, nxt, ent_c, ent_w, n_seeds, bounds, cluster)
    cluster[cluster < 0] = n_seeds  # no shared term with any seed: one cluster at the end
    return np.lexsort((top_idx[:, 1], top_idx[:, 0], cluster)).astype(np.int64)
