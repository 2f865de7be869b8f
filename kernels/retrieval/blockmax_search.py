"""numba loops of ``block_index``: block entries at build time, best-first block-max pruning.

``count_block_runs``/``fill_block_maxima``: for each term (parallel), one pass over its
docid-sorted postings emits (block, max weight, first posting) per block holding it.
``search_one`` (the ``block-max`` kernel, after BMP): the bound of every block (float64
adds over the query terms' block entries), the blocks with a positive bound in a
max-heap, evaluated best first (``add_block``: binary-search each query term's entry for
the block, then add its postings there) until ``alpha * bound * MARGIN < theta`` (``alpha``
= 1 is safe: a block whose bound equals the k-th score is still evaluated, since it may
hold a tie with a lower id) or ``budget`` blocks were evaluated. ``search_many``: a batch,
chunks of queries in parallel. Cost: block entries of the query's terms, plus log(entries)
per term and the postings inside each evaluated block.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from kernels import jit_cache
from kernels.retrieval.numba_common import MARGIN, lower_bound, push, sift_max, write_sorted

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder


@nb.njit(parallel=True, cache=True)
def count_block_runs(col_ptr, col_docs, block, counts):
    for t in prange(len(col_ptr) - 1):
        n, last = 0, -1
        for p in range(col_ptr[t], col_ptr[t + 1]):
            b = col_docs[p] // block
            if b != last:
                n += 1
                last = b
        counts[t] = n


@nb.njit(parallel=True, cache=True)
def fill_block_maxima(col_ptr, col_docs, col_vals, block, bm_ptr, bm_block, bm_max, bm_start):
    for t in prange(len(col_ptr) - 1):
        e, last = bm_ptr[t] - 1, -1
        for p in range(col_ptr[t], col_ptr[t + 1]):
            b = col_docs[p] // block
            if b != last:
                e += 1
                bm_block[e], bm_max[e], bm_start[e], last = b, col_vals[p], p, b
            elif col_vals[p] > bm_max[e]:
                bm_max[e] = col_vals[p]


@nb.njit(fastmath=True, cache=True)
def _bounds(q_idx, q_val, bm_ptr, bm_block, bm_max, ub):
    ub[:] = 0.0
    for j in range(len(q_idx)):
        w = np.float64(q_val[j])
        t = q_idx[j]
        for p in range(bm_ptr[t], bm_ptr[t + 1]):
            ub[bm_block[p]] += w * bm_max[p]


@nb.njit(cache=True)
def _heap_of_blocks(ub, cand):
    m = 0
    for b in range(len(ub)):
        if ub[b] > 0.0:
            cand[m] = b
            m += 1
    for i in range(m // 2 - 1, -1, -1):
        sift_max(ub, cand, i, m)
    return m


@nb.njit(cache=True)
def add_block(b, block, q_idx, q_val, ix, entry, acc, hs, hd, size):
    """Score block b term-at-a-time over the postings of the query's terms inside it
    (``entry[j]``: term j's entry for block b, or -1) and offer its documents to the heap."""
    bm_start, post_doc, post_val, old_of = ix[3], ix[4], ix[5], ix[6]
    base = b * block
    width = min(block, len(old_of) - base)
    acc[:width] = 0.0
    for j in range(len(q_idx)):
        e = entry[j]
        if e >= 0:
            w = np.float64(q_val[j])
            for p in range(bm_start[e], bm_start[e + 1]):
                acc[post_doc[p] - base] += w * post_val[p]
    for s in range(width):
        if acc[s] > 0.0:
            size = push(hs, hd, size, acc[s], old_of[base + s])
    return size


@nb.njit(cache=True)
def _entries(b, q_idx, bm_ptr, bm_block, entry):
    for j in range(len(q_idx)):
        t = q_idx[j]
        e = lower_bound(bm_block, bm_ptr[t], bm_ptr[t + 1], b)
        entry[j] = e if e < bm_ptr[t + 1] and bm_block[e] == b else -1


@nb.njit(cache=True)
def search_one(q_idx, q_val, alpha, budget, block, ix, ub, cand, acc, hs, hd, out_row):
    """Top-k of one query into ``out_row``; ``ix`` is ``BlockIndex.arrays``."""
    _bounds(q_idx, q_val, ix[0], ix[1], ix[2], ub)
    m = _heap_of_blocks(ub, cand)
    entry = np.empty(len(q_idx), np.int64)
    size, done = 0, 0
    while m > 0 and (budget <= 0 or done < budget):
        b = cand[0]
        if size == len(hs) and alpha * ub[b] * MARGIN < hs[0]:
            break
        _entries(b, q_idx, ix[0], ix[1], entry)
        size = add_block(b, block, q_idx, q_val, ix, entry, acc, hs, hd, size)
        done += 1
        m -= 1
        cand[0] = cand[m]
        sift_max(ub, cand, 0, m)
    write_sorted(hs, hd, size, out_row)


# The same batch driver as daat_search.search_many, around this module's search_one: numba
# caches neither a function that takes another as an argument nor a closure (measured:
# a cache miss in every new process), so sharing it would recompile it on every run.
@nb.njit(parallel=True, cache=True)
def search_many(q_ptr, q_idx, q_val, bounds, alpha, budget, block, ix, n_blocks, out):
    k = out.shape[1]
    for c in prange(len(bounds) - 1):
        ub, cand = np.zeros(n_blocks, np.float64), np.empty(n_blocks, np.int64)
        acc = np.zeros(block, np.float64)
        hs, hd = np.empty(k, np.float64), np.empty(k, np.int64)
        for i in range(bounds[c], bounds[c + 1]):
            lo, hi = q_ptr[i], q_ptr[i + 1]
            search_one(q_idx[lo:hi], q_val[lo:hi], alpha, budget, block, ix, ub, cand, acc,
                       hs, hd, out[i])
