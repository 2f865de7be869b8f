"""Dense and sliding-window (StreamingLLM) attention on the CPU: prefill and split-K decode.

``prefill(qs, kT, v, q_pos, out, window, sinks)``: one task per (batch, KV head, pair of
query blocks): the G query heads of a KV group and 64 positions make a 64G-row tile, so
each K/V block is loaded once for the whole group (GQA), and query blocks are paired
first-with-last so every task holds the same causal work (static scheduling balances).
``decode(..., threads)``: the few query rows of a KV group form one tile; the key blocks are split
into chunks processed in parallel (flash-decoding), each leaving a partial (m, den, acc),
merged at the end. ``window = 0`` is dense; otherwise a row keeps keys ``j < sinks`` and
``pos - window < j <= pos``, and only the blocks that window touches are visited.

Inputs: ``qs`` B x H x Lq x d (scaled by log2(e)/sqrt(d)), ``kT`` B x Hkv x Lp/64 x d x 64 (blocks of keys transposed),
``v`` B x Hkv x Lp x d (Lp: L padded to 64), ``q_pos`` int64 (non-decreasing), ``out``
B x H x Lq x d float32. Dense FLOPs: 4 d per kept (query, key) entry, plus masked waste on
diagonal blocks (at most 64 keys per row).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from kernels.attention.cpu_blocks import (
    attend_blocks,
    finish_rows,
    load_rows,
    new_state,
    reset,
)
from kernels.attention.cpu_tiles import KEY_BLOCK, exp2

DECODE_TASKS_PER_THREAD = 4


@nb.njit(cache=True)
def block_list(hi, lo, window, sinks, n_key_blocks, blocks):
    """Key blocks the rows ``(lo, hi)`` can see; returns how many were written."""
    top = -1
    low = n_key_blocks * KEY_BLOCK
    for r in range(hi.size):
        if hi[r] >= 0:
            top = max(top, hi[r])
            low = min(low, lo[r])
    if top < 0:
        return 0
    n = 0
    first = 0
    if window > 0:
        for c in range(min(-(-sinks // KEY_BLOCK), top // KEY_BLOCK + 1)):
            blocks[n] = c
            n += 1
        first = max(n, max(low, 0) // KEY_BLOCK)
    for c in range(first, top // KEY_BLOCK + 1):
        blocks[n] = c
        n += 1
    return n


@nb.njit(cache=True)
def _bounds(q_pos, i0, n_i, heads, window, hi, lo):
    lq = q_pos.size
    for gh in range(heads):
        for i in range(n_i):
            if i0 + i < lq:
                r = gh * n_i + i
                hi[r] = q_pos[i0 + i]
                lo[r] = hi[r] - window + 1 if window > 0 else 0


@nb.njit(parallel=True, fastmath=True, cache=True)
def prefill(qs, kT, v, q_pos, out, window, sinks):
    n_b, n_h, lq, d = qs.shape
    n_kv = kT.shape[1]
    group = n_h // n_kv
    n_kb = kT.shape[2]
    n_qb = -(-lq // KEY_BLOCK)
    pairs = (n_qb + 1) // 2
    rows = group * KEY_BLOCK
    sink_end = sinks if window > 0 else 0
    for task in prange(n_b * n_kv * pairs):
        b, g, p = task // (n_kv * pairs), (task // pairs) % n_kv, task % pairs
        s, acc, m, den, hi, lo = new_state(rows, d)
        qt = np.zeros((rows, d), np.float32)
        blocks = np.empty(n_kb, np.int64)
        for t in range(2):
            a = p if t == 0 else n_qb - 1 - p
            if t == 1 and a == p:
                break
            reset(acc, m, den, hi, lo)
            load_rows(qs, b, g * group, group, a * KEY_BLOCK, KEY_BLOCK, qt)
            _bounds(q_pos, a * KEY_BLOCK, KEY_BLOCK, group, window, hi, lo)
            n = block_list(hi, lo, window, sinks, n_kb, blocks)
            attend_blocks(qt, rows, kT[b, g], v[b, g], blocks, n, hi, lo, sink_end, s, acc, m, den)
            finish_rows(acc, den, out, b, g * group, group, a * KEY_BLOCK, KEY_BLOCK)


@nb.njit(parallel=True, fastmath=True, cache=True)
def decode(qs, kT, v, q_pos, out, window, sinks, threads):
    n_b, n_h, lq, d = qs.shape
    n_kv = kT.shape[1]
    group = n_h // n_kv
    n_kb = kT.shape[2]
    rows = -(-group * lq // 4) * 4
    sink_end = sinks if window > 0 else 0
    _, _, _, _, hi, lo = new_state(rows, d)
    _bounds(q_pos, 0, lq, group, window, hi, lo)
    blocks = np.empty(n_kb, np.int64)
    n = block_list(hi, lo, window, sinks, n_kb, blocks)
    want = DECODE_TASKS_PER_THREAD * threads
    chunks = max(1, min(n, -(-want // (n_b * n_kv))))
    per = -(-n // chunks) if n > 0 else 1
    part_acc = np.zeros((n_b * n_kv * chunks, rows, d), np.float32)
    part_m = np.zeros((n_b * n_kv * chunks, rows), np.float32)
    part_l = np.zeros((n_b * n_kv * chunks, rows), np.float32)
    for task in prange(n_b * n_kv * chunks):
        b, g, c = task // (n_kv * chunks), (task // chunks) % n_kv, task % chunks
        s, acc, m, den, _, _ = new_state(rows, d)
        qt = np.zeros((rows, d), np.float32)
        load_rows(qs, b, g * group, group, 0, lq, qt)
        start, stop = min(c * per, n), min((c + 1) * per, n)
        attend_blocks(qt, rows, kT[b, g], v[b, g], blocks[start:stop], stop - start, hi, lo,
                      sink_end, s, acc, m, den)
        part_acc[task], part_m[task], part_l[task] = acc, m, den
    _merge(part_acc, part_m, part_l, chunks, out, group, lq)


@nb.njit(parallel=True, fastmath=True, cache=True)
def _merge(part_acc, part_m, part_l, chunks, out, group, lq):
    """Combine the chunks' partial softmax states: rescale each to the global maximum."""
    n_b, n_h = out.shape[0], out.shape[1]
    n_kv = n_h // group
    rows, d = part_acc.shape[1], part_acc.shape[2]
    for bg in prange(n_b * n_kv):
        b, g = bg // n_kv, bg % n_kv
        acc = np.zeros((rows, d), np.float32)
        den = np.zeros(rows, np.float32)
        for r in range(rows):
            top = part_m[bg * chunks, r]
            for c in range(1, chunks):
                top = max(top, part_m[bg * chunks + c, r])
            for c in range(chunks):
                w = exp2(part_m[bg * chunks + c, r] - top)
                den[r] += w * part_l[bg * chunks + c, r]
                acc[r] += w * part_acc[bg * chunks + c, r]
        finish_rows(acc, den, out, b, g * group, group, 0, lq)
