"""Flash-style attention of a tile of query rows over a list of 64-key blocks (numba).

The state of a tile (``rows`` query rows, a multiple of 4) is the running maximum ``m``,
the running sum ``den`` and the unnormalized output ``acc`` (rows x d) of the online softmax
(Milakov & Gimelshein 2018; FlashAttention): for each key block the scores
``s = qt @ kT[:, block]`` (log2 domain: ``qt`` is pre-scaled by log2(e)/sqrt(d)), masked
per row to ``lo[r] <= key <= hi[r]`` or ``key < sink_end``, then ``m' = max(m, max s)``,
``p = 2**(s - m')``, ``den = den * 2**(m - m') + sum p``, ``acc = acc * 2**(m - m') + p @ V``.
Memory is bounded by the tile (rows x 64 scores), never rows x L. A row whose every key is
masked keeps ``den = 0`` and finishes as zeros (no NaN). Masked scores hold the finite
``MASKED`` sentinel, so fastmath may assume no infinities.

Per block and row the work is ``4 * d * 64`` FLOPs (scores and P @ V, as in dense
attention) plus 64 exponentials. ``attend_pages`` does the same over pages gathered into
64-key tiles (Quest). Main entries: ``new_state``, ``reset``, ``load_rows``,
``attend_blocks``, ``attend_pages``, ``finish_rows``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from kernels.attention.cpu_tiles import KEY_BLOCK, exp2, exp2_row64, mm_tile, row_max64

MASKED = np.float32(-1e30)
RESCALE_SLACK = np.float32(8.0)
TILE_ROWS = 4


@nb.njit(cache=True)
def new_state(rows, d):
    """Scratch of one tile: scores, acc, m, den, hi, lo (rows padded to a multiple of 4)."""
    s = np.zeros((rows, KEY_BLOCK), np.float32)
    acc = np.zeros((rows, d), np.float32)
    m = np.full(rows, MASKED, np.float32)
    den = np.zeros(rows, np.float32)
    hi = np.full(rows, -1, np.int64)
    lo = np.zeros(rows, np.int64)
    return s, acc, m, den, hi, lo


@nb.njit(fastmath=True, cache=True)
def reset(acc, m, den, hi, lo):
    acc[:, :] = 0
    m[:] = MASKED
    den[:] = 0
    hi[:] = -1
    lo[:] = 0


@nb.njit(fastmath=True, cache=True)
def load_rows(qs, b, h0, heads, i0, n_i, qt):
    """qt[gh * n_i + i] = qs[b, h0 + gh, i0 + i] (rows past Lq, and padding, stay zero)."""
    qt[:, :] = 0
    lq = qs.shape[2]
    for gh in range(heads):
        for i in range(n_i):
            if i0 + i < lq:
                qt[gh * n_i + i, :] = qs[b, h0 + gh, i0 + i]


@nb.njit(fastmath=True, cache=True)
def _scores(qt, rows, k_block, s):
    s[:rows, :] = 0
    for r in range(0, rows, TILE_ROWS):
        mm_tile(qt, r, 0, k_block, 0, 0, qt.shape[1], s, r, 0, 4, 4)


@nb.njit(fastmath=True, cache=True)
def _pv(s, rows, v, key0, acc):
    d = acc.shape[1]
    for r in range(0, rows, TILE_ROWS):
        c = 0
        while c + 64 <= d:
            mm_tile(s, r, 0, v, key0, c, KEY_BLOCK, acc, r, c, 4, 4)
            c += 64
        tail = d - c
        if tail == 48:
            mm_tile(s, r, 0, v, key0, c, KEY_BLOCK, acc, r, c, 4, 3)
        elif tail == 32:
            mm_tile(s, r, 0, v, key0, c, KEY_BLOCK, acc, r, c, 4, 2)
        elif tail == 16:
            mm_tile(s, r, 0, v, key0, c, KEY_BLOCK, acc, r, c, 4, 1)


@nb.njit(fastmath=True, cache=True)
def _mask_row(row, key0, hi, lo, sink_end):
    for j in range(KEY_BLOCK):
        key = key0 + j
        if key > hi or (key < lo and key >= sink_end):
            row[j] = MASKED


@nb.njit(fastmath=True, cache=True)
def _update(s, rows, key0, hi, lo, sink_end, acc, m, den):
    """Mask each row, then the online-softmax step; s becomes the probabilities.

    Lazy rescaling (as FlashAttention-4): the running maximum moves only when a score
    exceeds it by more than ``RESCALE_SLACK`` (log2 units), so most blocks skip the
    rescale of acc; p = 2**(s - m) <= 2**8 keeps float32 sums far from overflow, and
    acc and den share the same m, so the result is unchanged."""
    last = key0 + KEY_BLOCK - 1
    for r in range(rows):
        if not (last <= hi[r] and (key0 >= lo[r] or last < sink_end)):
            _mask_row(s[r], key0, hi[r], lo[r], sink_end)
        peak = row_max64(s, r)
        if peak <= MASKED * np.float32(0.5):  # no key of this block for the row
            s[r, :] = 0
            continue
        if peak > m[r] + RESCALE_SLACK:
            alpha = exp2(m[r] - peak)
            den[r] *= alpha
            for c in range(acc.shape[1]):
                acc[r, c] *= alpha
            m[r] = peak
        den[r] += exp2_row64(s, r, m[r])


@nb.njit(fastmath=True, cache=True)
def attend_blocks(qt, rows, kT, v, blocks, n_blocks, hi, lo, sink_end, s, acc, m, den):
    """Fold key blocks ``blocks[:n_blocks]`` (block indices) into the tile's state.

    ``kT``: Lp/64 x d x 64 keys of one KV head (each block transposed and contiguous),
    ``v``: Lp x d values."""
    for bi in range(n_blocks):
        key0 = blocks[bi] * KEY_BLOCK
        _scores(qt, rows, kT[blocks[bi]], s)
        _update(s, rows, key0, hi, lo, sink_end, acc, m, den)
        _pv(s, rows, v, key0, acc)


@nb.njit(fastmath=True, cache=True)
def _pack_pages(kT, v, pages, first, count, page, k_pack, v_pack, key_pos):
    """Copy pages ``pages[first:first + count]`` into one 64-key tile: K columns from the
    blocked K^T (a page is ``page`` consecutive columns of one block), V rows; slots past
    them get position -1 (masked)."""
    d = v.shape[1]
    for slot in range(count):
        key0 = pages[first + slot] * page
        block, off = key0 // KEY_BLOCK, key0 % KEY_BLOCK
        col = slot * page
        source = kT[block]
        for c in range(d):
            dst, src = k_pack[c], source[c]
            for j in range(page):
                dst[col + j] = src[off + j]
        for j in range(page):
            dst, src = v_pack[col + j], v[key0 + j]
            for c in range(d):
                dst[c] = src[c]
            key_pos[col + j] = key0 + j
    for j in range(count * page, KEY_BLOCK):
        key_pos[j] = -1


@nb.njit(fastmath=True, cache=True)
def attend_pages(qt, rows, kT, v, pages, n_pages, page, pos, s, acc, m, den):
    """Fold the keys ``j <= pos`` of pages ``pages[:n_pages]`` (``page`` keys each, a
    divisor of 64) into the tile's state, 64 / page pages per score tile."""
    d = v.shape[1]
    k_pack = np.zeros((d, KEY_BLOCK), np.float32)
    v_pack = np.zeros((KEY_BLOCK, d), np.float32)
    key_pos = np.empty(KEY_BLOCK, np.int64)
    no_hi = np.full(rows, 1 << 62, np.int64)
    no_lo = np.zeros(rows, np.int64)
    per_tile = KEY_BLOCK // page
    for first in range(0, n_pages, per_tile):
        count = min(per_tile, n_pages - first)
        _pack_pages(kT, v, pages, first, count, page, k_pack, v_pack, key_pos)
        _scores(qt, rows, k_pack, s)
        if count < per_tile or pages[first + count - 1] * page + page - 1 > pos:
            for j in range(KEY_BLOCK):
                if key_pos[j] < 0 or key_pos[j] > pos:
                    s[:rows, j] = MASKED
        _update(s, rows, 0, no_hi, no_lo, 0, acc, m, den)
        _pv(s, rows, v_pack, 0, acc)


@nb.njit(fastmath=True, cache=True)
def finish_rows(acc, den, out, b, h0, heads, i0, n_i):
    """out[b, h0 + gh, i0 + i] = acc / den for the tile's real rows (zeros where den == 0)."""
    lq = out.shape[2]
    for gh in range(heads):
        for i in range(n_i):
            if i0 + i >= lq:
                continue
            r = gh * n_i + i
            inv = np.float32(1.0) / den[r] if den[r] > 0 else np.float32(0.0)
            for c in range(acc.shape[1]):
                out[b, h0 + gh, i0 + i, c] = acc[r, c] * inv
