"""Per-query key selection and gathered attention on the CPU: top-k, Top-theta and Double
Sparsity, prefill and decode (numba).

Each query row gets selection scores over its causal keys, keeps a set of keys by the
method's rule, and attends exactly over that set (``attend_row`` / ``attend_scored``):

* ``MODE_TOPK``: the k highest exact scores (ties: the lower key), the accuracy ceiling
  of any top-k method; scores cost as much as dense attention's Q K^T.
* ``MODE_THETA`` (Top-theta, Berestizshevsky et al. 2025): keys whose exact score reaches
  the head's threshold for rows of that length (``theta[h, bucket(n)]``, calibrated
  offline to keep ``target`` keys on average); rows with ``n <= target`` keep all, and a
  row where nothing passes keeps its best key. No sorting at run time.
* ``MODE_DS`` (Double Sparsity, Yang et al. 2024): approximate scores from the r heavy
  channels of each KV head (the label cache, ``labelT``), top-k on those, exact scores
  recomputed for the kept keys only.

Selection scores come from the tiles of ``cpu_tiles.mm_tile`` (64 rows of one head per
prefill task; the query rows of a KV group per decode chunk); the top-k uses a
radix select per row (``cpu_topk``), O(n). Sampled rows record their kept keys in
``rec_idx``/``rec_cnt``; ``row_cnt`` holds every row's kept count (for the density).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange

from kernels.attention.cpu_blocks import MASKED, load_rows
from kernels.attention.cpu_tiles import KEY_BLOCK, axpy_vec, dot_vec, exp2, mm_tile
from kernels.attention.cpu_topk import HIST_BINS, top_k_keys

MODE_TOPK, MODE_THETA, MODE_DS = 0, 1, 2


@nb.njit(fastmath=True, cache=True)
def _softmax_v(s, v, keys, n, out_row):
    """out_row = sum_j 2**(s[j] - max s) v[keys[j]] / sum_j 2**(...) (zeros when n == 0).

    The sum runs in a fresh local array: LLVM vectorizes it only when it can tell the
    accumulator from V (an argument view might alias it; measured 10x slower)."""
    d = out_row.size
    acc = np.zeros(d, np.float32)
    n_vec = d // 16
    if n > 0:
        top = MASKED
        for j in range(n):
            top = s[j] if s[j] > top else top
        total = np.float32(0.0)
        for j in range(n):
            p = exp2(s[j] - top)
            s[j] = p
            total += p
        for j in range(n):
            axpy_vec(acc, s[j] / total, v[keys[j]], n_vec)
    for c in range(d):
        out_row[c] = acc[c]


@nb.njit(fastmath=True, cache=True)
def attend_row(q, k, v, keys, n, out_row):
    """Exact attention of one (scaled) query over keys ``keys[:n]`` of K, V (L x d)."""
    s = np.empty(max(n, 1), np.float32)
    n_vec = q.size // 16
    for j in range(n):
        s[j] = dot_vec(q, k[keys[j]], n_vec)
    _softmax_v(s, v, keys, n, out_row)


@nb.njit(fastmath=True, cache=True)
def attend_scored(scores, v, keys, n, out_row):
    """As ``attend_row`` with the exact scores already computed (``scores[key]``)."""
    s = np.empty(max(n, 1), np.float32)
    for j in range(n):
        s[j] = scores[keys[j]]
    _softmax_v(s, v, keys, n, out_row)


@nb.njit(fastmath=True, cache=True)
def theta_for(theta_h, n, target):
    """The head's threshold for a row of n keys (MASKED: keep all)."""
    if n <= target:
        return MASKED
    bucket = min(int(2.0 * math.log2(n)), theta_h.size - 1)
    return theta_h[bucket]


@nb.njit(fastmath=True, cache=True)
def threshold_keys(x, n, theta, out):
    """Ascending positions with x >= theta; the best one alone if none passes."""
    count, best = 0, 0
    for j in range(n):
        if x[j] >= theta:
            out[count] = j
            count += 1
        if x[j] > x[best]:
            best = j
    if count == 0 and n > 0:
        out[0] = best
        count = 1
    return count


@nb.njit(fastmath=True, cache=True)
def select_row(mode, x, n, k_keep, theta, out, keys, hist):
    """The row's kept positions into ``out`` (``keys``/``hist``: top-k scratch)."""
    if mode == MODE_THETA:
        return threshold_keys(x, n, theta, out)
    return top_k_keys(x, n, k_keep, out, keys, hist)


@nb.njit(fastmath=True, cache=True)
def finish_row(mode, scores, qrow, k, v, keys, n, out_row):
    if mode == MODE_DS:
        attend_row(qrow, k, v, keys, n, out_row)
    else:
        attend_scored(scores, v, keys, n, out_row)


@nb.njit(fastmath=True, cache=True)
def _score_tile(mode, qt, rows, kT, labelT, chan, n_blocks, s):
    """s[:rows, :64 n_blocks] = selection scores of the tile against blocks 0..n_blocks-1."""
    s[:, :] = 0
    if mode == MODE_DS:
        qc = np.ascontiguousarray(qt[:, chan])
        for c in range(n_blocks):
            for r in range(0, rows, 4):
                mm_tile(qc, r, 0, labelT[c], 0, 0, chan.size, s, r, c * KEY_BLOCK, 4, 4)
    else:
        for c in range(n_blocks):
            for r in range(0, rows, 4):
                mm_tile(qt, r, 0, kT[c], 0, 0, qt.shape[1], s, r, c * KEY_BLOCK, 4, 4)


@nb.njit(parallel=True, fastmath=True, cache=True)
def prefill(mode, qs, kT, k, v, q_pos, k_keep, theta, target, labelT, chans, slot_of,
            rec_idx, rec_cnt, row_cnt, out):
    n_b, n_h, lq, d = qs.shape
    group = n_h // k.shape[1]
    n_qb = -(-lq // KEY_BLOCK)
    for task in prange(n_b * n_h * n_qb):
        b, h, a = task // (n_h * n_qb), (task // n_qb) % n_h, task % n_qb
        g, i0 = h // group, a * KEY_BLOCK
        n_i = min(KEY_BLOCK, lq - i0)
        qt = np.zeros((KEY_BLOCK, d), np.float32)
        load_rows(qs, b, h, 1, i0, n_i, qt)
        n_blocks = q_pos[i0 + n_i - 1] // KEY_BLOCK + 1
        s = np.empty((KEY_BLOCK, n_blocks * KEY_BLOCK), np.float32)
        _score_tile(mode, qt, KEY_BLOCK, kT[b, g], labelT[b, g], chans[g], n_blocks, s)
        keys = np.empty(n_blocks * KEY_BLOCK, np.int64)
        order = np.empty(n_blocks * KEY_BLOCK, np.uint32)
        hist = np.empty(HIST_BINS, np.int64)
        for r in range(n_i):
            i = i0 + r
            n = q_pos[i] + 1
            cnt = select_row(mode, s[r], n, k_keep, theta_for(theta[h], n, target), keys,
                             order, hist)
            finish_row(mode, s[r], qs[b, h, i], k[b, g], v[b, g], keys, cnt, out[b, h, i])
            record_row(slot_of[i], keys, cnt, rec_idx[b, h], rec_cnt[b, h])
            row_cnt[b, h, i] = cnt


@nb.njit(cache=True)
def record_row(slot, keys, cnt, rec_idx_bh, rec_cnt_bh):
    if slot >= 0:
        rec_idx_bh[slot, :cnt] = keys[:cnt]
        rec_cnt_bh[slot] = cnt


@nb.njit(parallel=True, fastmath=True, cache=True)
def decode(mode, qs, kT, k, v, q_pos, k_keep, theta, target, labelT, chans, slot_of,
           rec_idx, rec_cnt, row_cnt, out, threads):
    """Phase 1: selection scores of each KV group's query rows, key blocks in parallel
    chunks; phase 2: per query row, select and attend."""
    n_b, n_h, lq, d = qs.shape
    n_kv = k.shape[1]
    group = n_h // n_kv
    rows = -(-group * lq // 4) * 4
    n_blocks = q_pos[lq - 1] // KEY_BLOCK + 1
    chunks = max(1, min(n_blocks, -(-4 * threads // (n_b * n_kv))))
    per = -(-n_blocks // chunks)
    scores = np.empty((n_b, n_kv, rows, n_blocks * KEY_BLOCK), np.float32)
    for task in prange(n_b * n_kv * chunks):
        b, g, c = task // (n_kv * chunks), (task // chunks) % n_kv, task % chunks
        qt = np.zeros((rows, d), np.float32)
        load_rows(qs, b, g * group, group, 0, lq, qt)
        c0, c1 = min(c * per, n_blocks), min((c + 1) * per, n_blocks)
        tile = np.empty((rows, (c1 - c0) * KEY_BLOCK), np.float32)
        _score_tile(mode, qt, rows, kT[b, g, c0:c1], labelT[b, g, c0:c1], chans[g],
                    c1 - c0, tile)
        scores[b, g, :, c0 * KEY_BLOCK:c1 * KEY_BLOCK] = tile
    for task in prange(n_b * n_h * lq):
        b, h, i = task // (n_h * lq), (task // lq) % n_h, task % lq
        g, n = h // group, q_pos[i] + 1
        row = scores[b, g, (h % group) * lq + i]
        keys = np.empty(n, np.int64)
        order = np.empty(n, np.uint32)
        hist = np.empty(HIST_BINS, np.int64)
        cnt = select_row(mode, row, n, k_keep, theta_for(theta[h], n, target), keys, order,
                         hist)
        finish_row(mode, row, qs[b, h, i], k[b, g], v[b, g], keys, cnt, out[b, h, i])
        record_row(slot_of[i], keys, cnt, rec_idx[b, h], rec_cnt[b, h])
        row_cnt[b, h, i] = cnt
