"""Query processing over our Seismic-style index (``seismic_index``), from the paper.

For each of the query's ``query_cut`` heaviest terms, in that order: score every block
summary of the term's list against the whole query (the list's summary entries are sorted
by term, so only the entries of the query's terms are read: a binary search per query
term), then visit the blocks best summary first (a heap); once the heap of results holds
k documents, the first block whose summary score is below ``heap_factor * theta`` ends the
list (so a smaller ``heap_factor`` visits more blocks: 1.0 is the most aggressive, as in
pyseismic). A visited block scores each not-yet-seen document on the float16 forward
index, prefetching the rows ``AHEAD`` documents ahead. Approximate: the summaries are not
upper bounds (energy-cut) and the lists are pruned.

Main entries: ``search_one(...)`` (one query, one thread) and ``search_many(...)`` (a batch,
parallel over chunks of queries). Cost per query: per cut term, log(list entries) per
query term plus the matching summary entries; per visited block, its documents' non-zeros
(4 bytes each: uint16 id, float16 value).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from kernels import jit_cache
from kernels.retrieval.numba_common import (
    clear,
    dot_half,
    lower_bound,
    order_by_weight,
    prefetch_row,
    push,
    scatter,
    sift_max,
    write_sorted,
)

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

AHEAD = 2  # documents of a block prefetched ahead of the one being scored


@nb.njit(cache=True)
def _block_scores(t, q_idx, q_val, ix, scores):
    """Summary score of every block of term t's list into ``scores[:n_blocks]``, from the
    entries sorted by (term, block): only the query's terms' entries are read."""
    term_blocks, list_entries, sum_term, sum_block, sum_code, scale = ix[3], *ix[6:]
    b0, n_blocks = term_blocks[t], term_blocks[t + 1] - term_blocks[t]
    scores[:n_blocks] = 0.0
    pos, end = list_entries[t], list_entries[t + 1]
    for j in range(len(q_idx)):
        u = q_idx[j]
        pos = lower_bound(sum_term, pos, end, u)
        if pos == end:
            break
        w = q_val[j]
        while pos < end and sum_term[pos] == u:
            scores[sum_block[pos]] += w * sum_code[pos]
            pos += 1
    for j in range(n_blocks):
        scores[j] *= scale[b0 + j]
    return n_blocks


@nb.njit(cache=True)
def _visit_block(b, ix, dense, visited, hs, hd, size):
    """Score the block's documents not seen yet (float16 forward rows) into the heap."""
    fwd_ptr, fwd_idx, fwd_val, term_blocks, block_ptr, block_docs = ix[:6]
    lo, hi = block_ptr[b], block_ptr[b + 1]
    for p in range(lo, min(lo + AHEAD, hi)):
        prefetch_row(fwd_idx, fwd_val, fwd_ptr[block_docs[p]], fwd_ptr[block_docs[p] + 1])
    for p in range(lo, hi):
        if p + AHEAD < hi:
            nxt = block_docs[p + AHEAD]
            prefetch_row(fwd_idx, fwd_val, fwd_ptr[nxt], fwd_ptr[nxt + 1])
        d = block_docs[p]
        byte, bit = d >> 3, np.uint8(1 << (d & 7))
        if visited[byte] & bit:
            continue
        visited[byte] |= bit
        size = push(hs, hd, size, dot_half(fwd_idx, fwd_val, fwd_ptr[d], fwd_ptr[d + 1], dense),
                    d)
    return size


@nb.njit(cache=True)
def _candidates(scores, n_blocks, floor, cand):
    """Blocks whose summary score reaches ``floor``, as a max-heap on score in ``cand``."""
    m = 0
    for j in range(n_blocks):
        if scores[j] >= floor:
            cand[m] = j
            m += 1
    for i in range(m // 2 - 1, -1, -1):
        sift_max(scores, cand, i, m)
    return m


@nb.njit(cache=True)
def search_one(q_idx, q_val, query_cut, heap_factor, ix, dense, visited, scores, cand, hs,
               hd, out_row):
    """Top-k of one query into ``out_row``; ``ix`` is ``SeismicIndex.arrays``."""
    scatter(dense, q_idx, q_val)
    visited[:] = 0
    size = 0
    order = order_by_weight(q_val)
    for r in range(min(query_cut, len(order))):
        t = q_idx[order[r]]
        n_blocks = _block_scores(t, q_idx, q_val, ix, scores)
        floor = heap_factor * hs[0] if size == len(hs) else 0.0
        m = _candidates(scores, n_blocks, floor, cand)
        while m > 0:
            j = cand[0]
            if size == len(hs) and scores[j] < heap_factor * hs[0]:
                break
            size = _visit_block(ix[3][t] + j, ix, dense, visited, hs, hd, size)
            m -= 1
            cand[0] = cand[m]
            sift_max(scores, cand, 0, m)
    write_sorted(hs, hd, size, out_row)
    clear(dense, q_idx)


@nb.njit(parallel=True, cache=True)
def search_many(q_ptr, q_idx, q_val, bounds, query_cut, heap_factor, ix, vocab, n_docs,
                max_blocks, out):
    """``search_one`` for every query of a CSR batch, chunks of queries in parallel."""
    k = out.shape[1]
    for c in prange(len(bounds) - 1):
        dense = np.zeros(vocab, np.float64)
        visited = np.zeros((n_docs + 7) // 8, np.uint8)
        scores = np.empty(max_blocks, np.float64)
        cand = np.empty(max_blocks, np.int64)
        hs, hd = np.empty(k, np.float64), np.empty(k, np.int64)
        for i in range(bounds[c], bounds[c + 1]):
            lo, hi = q_ptr[i], q_ptr[i + 1]
            search_one(q_idx[lo:hi], q_val[lo:hi], query_cut, heap_factor, ix, dense, visited,
                       scores, cand, hs, hd, out[i])
