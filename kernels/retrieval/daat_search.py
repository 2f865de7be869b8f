"""Document-at-a-time search with block-max skipping over ``block_index`` (the ``daat`` kernel).

After the ``WARM`` blocks of best bound are scored (so theta starts high), documents are
visited in increasing (new) id, a block of ``block`` ids at a time, as a DAAT traversal
merges the query's posting lists: every query term keeps a cursor into its
block entries that only moves forward. A block whose bound (sum over the query's terms
of q_t times the term's largest weight in the block: Ding and Suel's block-max idea on
document-aligned blocks) cannot reach theta is skipped without touching its postings;
otherwise its documents are scored from the postings under the cursors and offered to the
heap. ``alpha`` = 1 is safe (a block whose bound equals theta is still read: ties go to
the lower original id); ``alpha`` < 1 skips a block when ``bound < theta / alpha``.
Main entries: ``search_one``, ``search_many``. Cost: the block entries of the query's
terms (the bounds, then the cursors' walk) plus the postings inside the blocks read.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from kernels import jit_cache
from kernels.retrieval.blockmax_search import _bounds, _entries, _heap_of_blocks, add_block
from kernels.retrieval.numba_common import MARGIN, sift_max, write_sorted

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

WARM = 8  # best-bound blocks scored first, so theta is high before the docid sweep


@nb.njit(cache=True)
def _advance(b, q_idx, bm_ptr, bm_block, cursor, entry):
    """Move each term's cursor to its first entry at block >= b; ``entry``: at b, or -1."""
    for j in range(len(q_idx)):
        end = bm_ptr[q_idx[j] + 1]
        e = cursor[j]
        while e < end and bm_block[e] < b:
            e += 1
        cursor[j] = e
        entry[j] = e if e < end and bm_block[e] == b else -1


@nb.njit(cache=True)
def _warm_up(q_idx, q_val, block, ix, ub, cand, acc, hs, hd, entry):
    """Score the ``WARM`` best-bound blocks; mark them done (bound set to -1)."""
    m = _heap_of_blocks(ub, cand)
    size = 0
    for _ in range(min(WARM, m)):
        b = cand[0]
        _entries(b, q_idx, ix[0], ix[1], entry)
        size = add_block(b, block, q_idx, q_val, ix, entry, acc, hs, hd, size)
        m -= 1
        cand[0] = cand[m]
        sift_max(ub, cand, 0, m)
        ub[b] = -1.0
    return size


@nb.njit(cache=True)
def search_one(q_idx, q_val, alpha, budget, block, ix, ub, cand, acc, hs, hd, out_row):
    """Top-k of one query into ``out_row`` (``budget`` is unused here)."""
    bm_ptr, bm_block = ix[0], ix[1]
    _bounds(q_idx, q_val, bm_ptr, bm_block, ix[2], ub)
    cursor = np.empty(len(q_idx), np.int64)
    entry = np.empty(len(q_idx), np.int64)
    for j in range(len(q_idx)):
        cursor[j] = bm_ptr[q_idx[j]]
    size = _warm_up(q_idx, q_val, block, ix, ub, cand, acc, hs, hd, entry)
    for b in range(len(ub)):
        if ub[b] <= 0.0 or (size == len(hs) and alpha * ub[b] * MARGIN < hs[0]):
            continue
        _advance(b, q_idx, bm_ptr, bm_block, cursor, entry)
        size = add_block(b, block, q_idx, q_val, ix, entry, acc, hs, hd, size)
    write_sorted(hs, hd, size, out_row)


# The same batch driver as blockmax_search.search_many, around this module's search_one: numba
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
