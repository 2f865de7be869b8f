"""FLOPs and minimum bytes of each attention method (float32), for the roofline.

E = causal (query, key) entries over batch and heads; E_k = the entries a method keeps
(its nominal count: min(k, n) per row, or whole blocks); |X| = bytes of tensor X; r =
Double Sparsity's label channels; P = Quest's page size; rho = E_k / E. Exponentials
are not counted as FLOPs.

| method | FLOPs | bytes_min |
| --- | --- | --- |
| dense (ours, SDPA) | 4 d E | Q + O + K + V |
| window | 4 d E_k | Q + O + K + V (prefill); Q + O + rho (K + V) (decode) |
| block-sparse prefill | 4 d 64^2 (kept block pairs) + 2 d H (L/64)^2 / 2 | Q + O + K + V |
| Quest decode | 4 d E_k + 3 d H L / P | Q + O + 2 |K| / P + rho (K + V) |
| top-k, Top-theta | 2 d E + 2 d E_k | Q + O + K + V (prefill); Q + O + K + rho V (decode) |
| Double Sparsity | 2 r E + 4 d E_k | Q + O + K + V (prefill); Q + O + (r / d) K + rho (K + V) (decode) |

Main entry: ``method_cost(instance, method, options) -> (flops, bytes_min)``.
"""

from __future__ import annotations

import numpy as np

FLOAT = 4


def entries(instance) -> tuple[float, float]:
    """(E, E_k) with E_k = sum over rows of min(k, n)."""
    n = instance.query_positions.astype(np.float64) + 1
    heads = instance.shape.batch * instance.shape.heads
    return heads * n.sum(), heads * np.minimum(n, instance.keys_per_query).sum()


def tensor_bytes(instance) -> tuple[float, float]:
    """(|Q| + |O|, |K| + |V|) in bytes."""
    s = instance.shape
    n_q = len(instance.query_positions)
    return 2.0 * FLOAT * s.batch * s.heads * n_q * s.head_dim, \
        2.0 * FLOAT * s.batch * s.kv_heads * s.length * s.head_dim


def method_cost(instance, method: str, options: dict) -> tuple[float, float]:
    d, s = instance.shape.head_dim, instance.shape
    e_all, e_kept = entries(instance)
    q_o, kv = tensor_bytes(instance)
    rho = e_kept / e_all
    decode = instance.phase == "decode"
    if method == "dense":
        return 4.0 * d * e_all, q_o + kv
    if method == "window":
        return 4.0 * d * e_kept, q_o + (rho * kv if decode else kv)
    if method == "block-sparse" and not decode:
        blocks = max(1, round(instance.keys_per_query / 64))
        pairs = s.batch * s.heads * _kept_block_pairs(s.length, blocks)
        select = 2.0 * d * s.heads * s.batch * (s.length / 64) ** 2 / 2
        return 4.0 * d * 64 * 64 * pairs + select, q_o + kv
    if method == "block-sparse":
        page = int(options.get("page", 16))
        select = 3.0 * d * s.batch * s.heads * len(instance.query_positions) * s.length / page
        return 4.0 * d * e_kept + select, q_o + kv / 2 * 2 / page + rho * kv
    if method in ("top-k", "top-theta"):
        return 2.0 * d * (e_all + e_kept), q_o + (kv / 2 + rho * kv / 2 if decode else kv)
    if method == "double-sparsity":
        r = int(options.get("channels", d // 4))
        label = kv / 2 * r / d
        return 2.0 * r * e_all + 4.0 * d * e_kept, q_o + (label + rho * kv if decode else kv)
    raise ValueError(f"unknown attention method {method!r}")


def _kept_block_pairs(length: int, blocks: int) -> float:
    n_qb = -(-length // 64)
    return float(sum(min(blocks, a + 1) for a in range(n_qb)))
