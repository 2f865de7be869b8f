"""Memory layouts the CPU attention kernels read, made from an ``AttentionBatch`` (numpy).

* ``scaled_queries(q)``: q * log2(e)/sqrt(d), so softmax needs only 2**x (B x H x Lq x d).
* ``keys_transposed(k)``: B x Hkv x Lp/64 x d x 64, L zero padded to a multiple of 64,
  each block of 64 keys transposed and contiguous (16 KiB at d = 64): a score tile reads
  64 keys of one channel as four 512-bit vectors, and never strides by a power of two
  across L (a d x L layout put all 64 channel rows of a block in one L1 set).
* ``padded(v)``: B x Hkv x Lp x d, the same padding on rows.

Prefill kernels build these inside the timed call (the keys arrive with the queries);
decode kernels build them in ``put`` (untimed): the KV cache and whatever a method keeps
beside it (Quest's page bounds, Double Sparsity's label cache) exist before the query
arrives and grow by one token per step. Each costs one pass over K or V: O(L d) bytes.
"""

from __future__ import annotations

import numpy as np

from kernels.attention.cpu_tiles import KEY_BLOCK, LOG2E, pad_to


def scale_of(head_dim: int) -> float:
    """Score scale in the log2 domain: log2(e) / sqrt(d)."""
    return LOG2E / float(np.sqrt(head_dim))


def scaled_queries(q: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(q * np.float32(scale_of(q.shape[-1])), dtype=np.float32)


def keys_transposed(k: np.ndarray) -> np.ndarray:
    n_b, n_kv, length, d = k.shape
    padded_k = np.zeros((n_b, n_kv, pad_to(length, KEY_BLOCK), d), np.float32)
    padded_k[:, :, :length] = k
    blocks = padded_k.reshape(n_b, n_kv, -1, KEY_BLOCK, d)
    return np.ascontiguousarray(blocks.transpose(0, 1, 2, 4, 3))


def padded(v: np.ndarray) -> np.ndarray:
    n_b, n_kv, length, d = v.shape
    out = np.zeros((n_b, n_kv, pad_to(length, KEY_BLOCK), d), np.float32)
    out[:, :, :length] = v
    return out
