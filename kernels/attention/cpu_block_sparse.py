"""Block-sparse attention on the CPU: MInference-style key blocks for prefill, Quest pages
for decode (numba).

Prefill (``select_blocks`` + ``prefill``): per head, query block a (64 positions) and key
block c are scored by their mean-pooled vectors, ``mean(q_a) . mean(k_c)`` (c <= a); the
sink block 0 and the diagonal block a are always kept, then the best-scored others (ties:
the lower block) up to ``n_blocks`` in all. Selection costs ``2 d (L/64)^2 / 2`` FLOPs per
head; attention over the kept blocks ``4 d 64^2`` FLOPs per block pair (``cpu_blocks``).

Decode (``page_bounds`` in ``put``, then ``decode``): Quest (Tang et al. 2024) keeps per
page of ``page`` keys the channel-wise min and max of K; a query's upper bound on a
page's scores is ``sum_d max(q_d * max_d, q_d * min_d)``. With grouped-query attention the
selection is per KV group (the G heads' bounds summed: on SmolLM2 captures at 2048 tokens
this keeps the same recall as per-head selection, within 0.01), so the group's heads share
one gather of K and V. The page holding the query is always kept, then the pages of
highest bound (ties: the lower page) up to ``n_pages``. Bytes read per KV group: the
bounds (2 d floats per page) plus the kept pages' K and V.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from kernels.attention.cpu_blocks import (
    attend_blocks,
    attend_pages,
    finish_rows,
    load_rows,
    new_state,
)
from kernels.attention.cpu_dense import _bounds
from kernels.attention.cpu_lists import record_row
from kernels.attention.cpu_tiles import KEY_BLOCK


@nb.njit(cache=True)
def _top_ranked(scores, n, forced_a, forced_b, keep, out):
    """Indices of the ``keep`` best of scores[:n], forced ones first; returns the count."""
    count = 0
    for f in (forced_a, forced_b):
        if 0 <= f < n and (count == 0 or out[0] != f):
            out[count] = f
            count += 1
    if keep <= count:
        return count
    order = np.argsort(-scores[:n], kind="mergesort")  # stable: ties keep the lower index
    for j in order:
        if count >= keep:
            break
        if j != forced_a and j != forced_b:
            out[count] = j
            count += 1
    return count


@nb.njit(parallel=True, fastmath=True, cache=True)
def select_blocks(qs, k, q_pos, n_blocks, blocks, counts):
    """blocks[b, h, a, :counts[b, h, a]]: the kept key blocks of query block a (sorted)."""
    n_b, n_h, lq, d = qs.shape
    n_kv, length = k.shape[1], k.shape[2]
    group = n_h // n_kv
    n_qb, n_kb = -(-lq // KEY_BLOCK), -(-length // KEY_BLOCK)
    k_mean = np.zeros((n_b, n_kv, n_kb, d), np.float32)
    for bg in prange(n_b * n_kv):
        b, g = bg // n_kv, bg % n_kv
        for c in range(n_kb):
            stop = min((c + 1) * KEY_BLOCK, length)
            for j in range(c * KEY_BLOCK, stop):
                k_mean[b, g, c] += k[b, g, j]
            k_mean[b, g, c] /= np.float32(stop - c * KEY_BLOCK)
    for task in prange(n_b * n_h * n_qb):
        b, h, a = task // (n_h * n_qb), (task // n_qb) % n_h, task % n_qb
        stop = min((a + 1) * KEY_BLOCK, lq)
        q_mean = np.zeros(d, np.float32)
        for i in range(a * KEY_BLOCK, stop):
            q_mean += qs[b, h, i]
        last = q_pos[stop - 1] // KEY_BLOCK
        scores = np.zeros(last + 1, np.float32)
        for c in range(last + 1):
            for dd in range(d):
                scores[c] += k_mean[b, h // group, c, dd] * q_mean[dd]
        chosen = np.empty(last + 1, np.int64)
        n = _top_ranked(scores, last + 1, 0, q_pos[a * KEY_BLOCK] // KEY_BLOCK, n_blocks, chosen)
        blocks[b, h, a, :n] = np.sort(chosen[:n])
        counts[b, h, a] = n


@nb.njit(parallel=True, fastmath=True, cache=True)
def prefill(qs, kT, v, q_pos, blocks, counts, out):
    """Attention of each head's query blocks over their kept key blocks."""
    n_b, n_h, lq, d = qs.shape
    group = n_h // kT.shape[1]
    n_qb = -(-lq // KEY_BLOCK)
    for task in prange(n_b * n_h * n_qb):
        b, h, a = task // (n_h * n_qb), (task // n_qb) % n_h, task % n_qb
        s, acc, m, den, hi, lo = new_state(KEY_BLOCK, d)
        qt = np.zeros((KEY_BLOCK, d), np.float32)
        load_rows(qs, b, h, 1, a * KEY_BLOCK, KEY_BLOCK, qt)
        _bounds(q_pos, a * KEY_BLOCK, KEY_BLOCK, 1, 0, hi, lo)
        attend_blocks(qt, KEY_BLOCK, kT[b, h // group], v[b, h // group], blocks[b, h, a],
                      counts[b, h, a], hi, lo, 0, s, acc, m, den)
        finish_rows(acc, den, out, b, h, 1, a * KEY_BLOCK, KEY_BLOCK)


@nb.njit(parallel=True, fastmath=True, cache=True)
def page_bounds(k, page):
    """Channel-wise (max, min) of K per page: two B x Hkv x pages x d arrays."""
    n_b, n_kv, length, d = k.shape
    n_pages = -(-length // page)
    k_max = np.empty((n_b, n_kv, n_pages, d), np.float32)
    k_min = np.empty((n_b, n_kv, n_pages, d), np.float32)
    for task in prange(n_b * n_kv * n_pages):
        b, g, c = task // (n_kv * n_pages), (task // n_pages) % n_kv, task % n_pages
        k_max[b, g, c] = k[b, g, c * page]
        k_min[b, g, c] = k[b, g, c * page]
        for j in range(c * page + 1, min((c + 1) * page, length)):
            k_max[b, g, c] = np.maximum(k_max[b, g, c], k[b, g, j])
            k_min[b, g, c] = np.minimum(k_min[b, g, c], k[b, g, j])
    return k_max, k_min


@nb.njit(fastmath=True, cache=True)
def _add_page_bounds(q, k_max, k_min, n_pages, out):
    """out[c] += sum_d max(q_d * max_cd, q_d * min_cd) for pages c < n_pages."""
    for c in range(n_pages):
        total = np.float32(0.0)
        hi_row, lo_row = k_max[c], k_min[c]
        for dd in range(q.size):
            a, b = q[dd] * hi_row[dd], q[dd] * lo_row[dd]
            total += a if a > b else b
        out[c] += total


@nb.njit(parallel=True, fastmath=True, cache=True)
def decode(qs, kT, v, q_pos, k_max, k_min, page, n_pages, slot_of, rec_idx, rec_cnt, row_cnt,
           out):
    """Quest per KV group: the G query heads' page bounds are summed, the group keeps the
    best pages (its query's page forced) and its heads attend together over their causal
    keys, pages packed into 64-key tiles (each K/V row read once); sampled rows record
    their kept key positions."""
    n_b, n_h, lq, d = qs.shape
    n_kv = kT.shape[1]
    group = n_h // n_kv
    rows = -(-group // 4) * 4
    for task in prange(n_b * n_kv * lq):
        b, g, i = task // (n_kv * lq), (task // lq) % n_kv, task % lq
        pos = q_pos[i]
        avail = pos // page + 1
        bound = np.zeros(avail, np.float32)
        for h in range(g * group, (g + 1) * group):
            _add_page_bounds(qs[b, h, i], k_max[b, g], k_min[b, g], avail, bound)
        chosen = np.empty(avail, np.int64)
        n = _top_ranked(bound, avail, pos // page, -1, n_pages, chosen)
        pages = np.sort(chosen[:n])
        s, acc, m, den, _, _ = new_state(rows, d)
        qt = np.zeros((rows, d), np.float32)
        load_rows(qs, b, g * group, group, i, 1, qt)
        attend_pages(qt, rows, kT[b, g], v[b, g], pages, n, page, pos, s, acc, m, den)
        finish_rows(acc, den, out, b, g * group, group, i, 1)
        _record_pages(pages, n, page, pos, slot_of[i], rec_idx[b], rec_cnt[b], row_cnt[b],
                      g * group, group, i)


@nb.njit(cache=True)
def _record_pages(pages, n, page, pos, slot, rec_idx, rec_cnt, row_cnt, h0, heads, i):
    keys = np.empty(n * page, np.int64)
    n_keys = 0
    for c in pages[:n]:
        for j in range(c * page, min((c + 1) * page, pos + 1)):
            keys[n_keys] = j
            n_keys += 1
    for h in range(h0, h0 + heads):
        record_row(slot, keys, n_keys, rec_idx[h], rec_cnt[h])
        row_cnt[h, i] = n_keys
