"""Offline calibration for Top-theta and Double Sparsity, on the calibration data (numpy).

Both are fitted per layer and head on Q, K of *calibration* text (SmolLM2: other plays
than the evaluation split; synthetic: another seed), never on the batch being timed, and
built once per build group through ``ctx.shared`` (untimed; their time and bytes go to
the records).

* ``theta_table(q, k, target)``: per query head and row-length bucket ``floor(2 log2 n)``,
  the median over calibration rows of the ``target``-th largest score, in the kernels'
  scaled log2 domain (Top-theta's per-head thresholds, made length-aware because a causal
  row of n keys has a larger k-th score the larger n is). Buckets past the calibration
  data take the last calibrated one. Cost: one score row (n d) per sampled row.
* ``heavy_channels(q, k, r)``: per KV head, the r channels with the largest
  ``sum_heads mean|q_c| * mean|k_c|`` (Double Sparsity's offline channel selection:
  the channels that carry most of ``q . k``), ascending. Cost: O((H + Hkv) L d).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.attention.layout import scale_of

ROWS_PER_BUCKET = 32
NO_THRESHOLD = np.float32(-1e30)  # keep every key (the kernels' MASKED sentinel)


def n_buckets(length: int) -> int:
    return int(2.0 * math.log2(max(length, 1))) + 1


def theta_table(q: np.ndarray, k: np.ndarray, target: int, seed: int = 0) -> np.ndarray:
    """float32 H x buckets thresholds from calibration q (B x H x L x d), k (B x Hkv x L x d)."""
    n_b, n_h, length, d = q.shape
    group = n_h // k.shape[1]
    scale = scale_of(d)
    table = np.full((n_h, n_buckets(length)), NO_THRESHOLD, np.float32)
    rng = np.random.default_rng(seed)
    positions = np.arange(length)
    buckets = (2.0 * np.log2(positions + 1)).astype(np.int64)
    for bucket in range(table.shape[1]):
        rows = positions[(buckets == bucket) & (positions + 1 > target)]
        if rows.size == 0:
            continue
        rows = rng.choice(rows, min(ROWS_PER_BUCKET, rows.size), replace=False)
        for h in range(n_h):
            kth = [_kth_score(q[b, h, i], k[b, h // group, :i + 1], target, scale)
                   for b in range(n_b) for i in rows]
            table[h, bucket] = np.float32(np.median(kth))
    return _fill_forward(table)


def _kth_score(q_row: np.ndarray, keys: np.ndarray, target: int, scale: float) -> float:
    scores = (keys @ q_row) * np.float32(scale)
    return float(np.partition(scores, scores.size - target)[scores.size - target])


def _fill_forward(table: np.ndarray) -> np.ndarray:
    """Buckets with no calibration rows past the last calibrated one copy it."""
    for h in range(table.shape[0]):
        last = NO_THRESHOLD
        for bucket in range(table.shape[1]):
            if table[h, bucket] != NO_THRESHOLD:
                last = table[h, bucket]
            elif last != NO_THRESHOLD:
                table[h, bucket] = last
    return table


def extend(table: np.ndarray, length: int) -> np.ndarray:
    """The table widened to rows of up to ``length`` keys (the last bucket repeated)."""
    want = n_buckets(length)
    if table.shape[1] >= want:
        return table
    pad = np.repeat(table[:, -1:], want - table.shape[1], axis=1)
    return np.ascontiguousarray(np.concatenate([table, pad], axis=1))


def heavy_channels(q: np.ndarray, k: np.ndarray, r: int) -> np.ndarray:
    """int64 Hkv x r channel indices (ascending) per KV head."""
    n_h, n_kv = q.shape[1], k.shape[1]
    group = n_h // n_kv
    q_mag = np.abs(q).mean(axis=(0, 2))          # H x d
    k_mag = np.abs(k).mean(axis=(0, 2))          # Hkv x d
    out = np.empty((n_kv, r), np.int64)
    for g in range(n_kv):
        weight = q_mag[g * group:(g + 1) * group].sum(axis=0) * k_mag[g]
        out[g] = np.sort(np.argsort(-weight, kind="stable")[:r])
    return out
