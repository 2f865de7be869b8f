"""The MoE kernels as array programs over ``xp`` (numpy on the CPU, CuPy on CUDA).

Each ``make_*`` does the untimed preparation (weights on the device, preallocated buffers,
routing as small-integer arrays) and returns a ``Plan`` whose ``run`` is what the harness
times: dispatch (sorting / masking by expert), the expert FFNs and the weighted combine.
Every ``run`` writes into buffers it owns and returns the same output array each call
(in-place updates use ``out=``: an augmented assignment would make a closure name local).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.moe.ops import (
    activate,
    dense_combine_weights,
    full_routing,
    host_list,
    id_dtype,
    stable_argsort,
)


@dataclass
class Plan:
    """``run()`` -> y (T x d). ``dropped``: T x k bool on the device, rewritten by each run,
    for kernels that drop overflow tokens. ``flops``: what the kernel executes."""

    run: Callable[[], Any]
    flops: float
    dropped: Any = None
    bytes_min: float | None = None  # set where the kernel reads more than routed experts


def _ids(xp, n_experts: int):
    """Expert ids: small ints for numpy's radix sort; int32 on the GPU (CuPy's bincount)."""
    return id_dtype(n_experts) if xp is np else np.int32


def _all_weights_bytes(inst, inputs) -> float:
    """Every expert's weights plus tokens in and out: what dense and capacity must read."""
    return float(inputs.w_in.nbytes + inputs.w_down.nbytes + 2 * inputs.x.nbytes)


def _per_pair_flops(inst) -> float:
    return 2.0 * inst.d_model * inst.d_ff * (3 if inst.gated else 2)


def make_dense(xp, put, inst, inputs) -> Plan:
    """Every expert on every token, combined with the dense T x E weight matrix (zeros for
    unrouted pairs): the "no sparsity exploited" baseline."""
    x, w_in, w_down = put(inputs.x), put(inputs.w_in), put(inputs.w_down)
    cw = put(dense_combine_weights(inputs))
    t, d, n = x.shape[0], x.shape[1], w_in.shape[0]
    h = xp.empty((t, inst.h_in), x.dtype)
    a = xp.empty((t, inst.d_ff), x.dtype)
    ye, y = xp.empty((t, d), x.dtype), xp.empty((t, d), x.dtype)

    def run():
        y.fill(0)
        for e in range(n):
            xp.matmul(x, w_in[e], out=h)
            activate(xp, h, inst.activation, a)
            xp.matmul(a, w_down[e], out=ye)
            xp.multiply(ye, cw[:, e:e + 1], out=ye)
            xp.add(y, ye, out=y)
        return y

    return Plan(run, _per_pair_flops(inst) * t * n, bytes_min=_all_weights_bytes(inst, inputs))


def make_grouped(xp, put, inst, inputs) -> Plan:
    """Dropless grouped GEMM (ScatterMoE / MegaBlocks style): one stable sort of the
    (token, slot) pairs by expert, one gather into contiguous per-expert row blocks, two
    GEMMs per non-empty expert into slices of preallocated buffers, one activation call over
    all pairs, and a combine that un-permutes and sums each token's k rows (no scatter-add)."""
    idx, weight = full_routing(inputs)
    t, k = idx.shape
    n, pairs, d = inputs.w_in.shape[0], idx.size, inst.d_model
    flat, w_flat = put(idx.ravel().astype(_ids(xp, n))), put(weight.ravel())
    x, w_in, w_down = put(inputs.x), put(inputs.w_in), put(inputs.w_down)
    all_pairs = put(np.arange(pairs))
    xs, ys = xp.empty((pairs, d), x.dtype), xp.empty((pairs, d), x.dtype)
    h = xp.empty((pairs, inst.h_in), x.dtype)
    a = xp.empty((pairs, inst.d_ff), x.dtype)
    inv, y = xp.empty(pairs, np.int64), xp.empty((t, d), x.dtype)

    def run():
        order = stable_argsort(xp, flat)
        ends = host_list(xp, xp.cumsum(xp.bincount(flat, minlength=n)))
        groups = [(e, lo, hi) for e, (lo, hi) in enumerate(zip([0] + ends[:-1], ends, strict=True))
                  if hi > lo]
        xp.take(x, order // k, axis=0, out=xs)
        for e, lo, hi in groups:
            xp.matmul(xs[lo:hi], w_in[e], out=h[lo:hi])
        activate(xp, h, inst.activation, a)
        for e, lo, hi in groups:
            xp.matmul(a[lo:hi], w_down[e], out=ys[lo:hi])
        xp.multiply(ys, w_flat[order][:, None], out=ys)
        inv[order] = all_pairs
        xp.take(ys, inv, axis=0, out=xs)  # back to (token, slot) order, reusing xs
        xp.sum(xs.reshape(t, k, d), axis=1, out=y)
        return y

    return Plan(run, _per_pair_flops(inst) * pairs)


def make_capacity(xp, put, inst, inputs) -> Plan:
    """GShard capacity: each routed expert gets a C-row buffer (E x C x d); assignments in
    slot-major, then token order fill it and the overflow is dropped; one batched matmul
    over the 3-D buffer. Shared experts see every token (never dropped)."""
    e_n, c, k, t, d = inst.experts, inst.capacity, inst.top_k, inst.tokens, inst.d_model
    pairs = t * k
    ids = np.ascontiguousarray(inputs.expert_idx.T).ravel()  # slot-major: j = slot * T + token
    slot_major = put(ids.astype(_ids(xp, e_n)))
    row_base = put(ids.astype(np.int64) * c)  # first buffer row of each pair's expert (E*C may
    # exceed the small id type, so this product is made in int64)
    w_sm = put(np.ascontiguousarray(inputs.expert_weight.T).ravel())
    token_of, all_pairs = put(np.tile(np.arange(t), k)), put(np.arange(pairs))
    x, w_in, w_down = put(inputs.x), put(inputs.w_in), put(inputs.w_down)
    w_in_routed, w_down_routed = w_in[:e_n], w_down[:e_n]
    disp, out = xp.zeros((e_n, c, d), x.dtype), xp.empty((e_n, c, d), x.dtype)
    h = xp.empty((e_n, c, inst.h_in), x.dtype)
    a = xp.empty((e_n, c, inst.d_ff), x.dtype)
    g, y = xp.empty((pairs, d), x.dtype), xp.empty((t, d), x.dtype)
    dropped = xp.zeros((t, k), bool)
    shared = _shared_ffn(xp, inst, x, w_in, w_down)

    def run():
        order = stable_argsort(xp, slot_major)
        counts = xp.bincount(slot_major, minlength=e_n)
        starts = xp.cumsum(counts) - counts
        pos = xp.empty(pairs, np.int64)
        pos[order] = all_pairs - starts[slot_major[order]]
        keep = pos < c
        disp.fill(0)
        disp[slot_major[keep], pos[keep]] = x[token_of[keep]]
        xp.matmul(disp, w_in_routed, out=h)
        activate(xp, h, inst.activation, a)
        xp.matmul(a, w_down_routed, out=out)
        xp.take(out.reshape(e_n * c, d), row_base + xp.minimum(pos, c - 1), axis=0, out=g)
        xp.multiply(g, (w_sm * keep)[:, None], out=g)  # dropped pairs weigh 0
        xp.sum(g.reshape(k, t, d), axis=0, out=y)
        shared(y)
        xp.logical_not(keep.reshape(k, t).T, out=dropped)
        return y

    flops = _per_pair_flops(inst) * (e_n * c + t * inst.shared_experts)
    return Plan(run, flops, dropped, _all_weights_bytes(inst, inputs))


def _shared_ffn(xp, inst, x, w_in, w_down):
    """y += FFN_s(x) for each shared expert s, on all tokens."""
    t, d = x.shape
    h = xp.empty((t, inst.h_in), x.dtype)
    a = xp.empty((t, inst.d_ff), x.dtype)
    ys = xp.empty((t, d), x.dtype)
    ids = range(inst.experts, inst.experts + inst.shared_experts)

    def add(y):
        for e in ids:
            xp.matmul(x, w_in[e], out=h)
            activate(xp, h, inst.activation, a)
            xp.matmul(a, w_down[e], out=ys)
            y += ys

    return add
