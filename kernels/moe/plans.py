"""The MoE kernels as array programs over ``xp`` (numpy on the CPU, CuPy on CUDA).

Each ``make_*`` does the untimed, batch-independent preparation (weights on the device,
preallocated buffers) and returns a ``Plan`` whose ``run(batch)`` is what the harness times:
everything that depends on the batch's routing (the combine matrix, sorting or masking by
expert, capacity slots), the expert FFNs and the weighted combine. ``batch`` is a
``suite.workloads.moe.MoeBatch`` on the kernel's device (x, expert_idx, expert_weight).
Every ``run`` writes into buffers it owns and returns the same output each call (in-place
updates use ``out=``: an augmented assignment would make a closure name local).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels.moe.ops import RoutingFeed, activate, host_list, id_dtype, stable_argsort
from suite.workloads.moe import MoeOutput


@dataclass
class Plan:
    """``run(batch)`` -> y (T x d), or ``MoeOutput(y, dropped)`` for kernels that drop.
    ``flops``: what the kernel executes; ``semantics``: what it declares about its answer
    (``Prepared.semantics``)."""

    run: Callable[[Any], Any]
    flops: float
    bytes_min: float | None = None  # set where the kernel reads more than routed experts
    semantics: dict[str, Any] = field(default_factory=dict)


def _ids(xp, n_experts: int):
    """Expert ids: small ints for numpy's radix sort; int32 on the GPU (CuPy's bincount)."""
    return id_dtype(n_experts) if xp is np else np.int32


def _all_weights_bytes(inst, inputs) -> float:
    """Every expert's weights plus tokens in and out: what dense and capacity must read."""
    x_bytes = inst.tokens * inst.d_model * inst.dtype.itemsize
    return float(inputs.w_in.nbytes + inputs.w_down.nbytes + 2 * x_bytes)


def _per_pair_flops(inst) -> float:
    return 2.0 * inst.d_model * inst.d_ff * (3 if inst.gated else 2)


def make_dense(xp, put, inst, inputs) -> Plan:
    """Every expert on every token, combined with the dense T x (E + S) weight matrix
    (zeros for unrouted pairs, filled from the batch's routing each call): the "no sparsity
    exploited" baseline."""
    w_in, w_down = put(inputs.w_in), put(inputs.w_down)
    t, d, n, e_n = inst.tokens, inst.d_model, w_in.shape[0], inst.experts
    cw = xp.ones((t, n), inst.dtype)  # shared experts' columns stay 1
    cw_routed, token_rows = cw[:, :e_n], xp.arange(t)[:, None]
    h = xp.empty((t, inst.h_in), inst.dtype)
    a = xp.empty((t, inst.d_ff), inst.dtype)
    ye, y = xp.empty((t, d), inst.dtype), xp.empty((t, d), inst.dtype)

    def run(batch):
        x = batch.x
        cw_routed.fill(0)
        cw[token_rows, batch.expert_idx] = batch.expert_weight
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
    n, d = inputs.w_in.shape[0], inst.d_model
    t, k = inst.tokens, inst.top_k + inst.shared_experts
    pairs = t * k
    feed = RoutingFeed(xp, inst, _ids(xp, n))
    w_in, w_down = put(inputs.w_in), put(inputs.w_down)
    all_pairs = xp.arange(pairs)
    xs, ys = xp.empty((pairs, d), inst.dtype), xp.empty((pairs, d), inst.dtype)
    h = xp.empty((pairs, inst.h_in), inst.dtype)
    a = xp.empty((pairs, inst.d_ff), inst.dtype)
    inv, y = xp.empty(pairs, np.int64), xp.empty((t, d), inst.dtype)

    def run(batch):
        flat, w_flat = feed.flat(batch)
        order = stable_argsort(xp, flat)
        ends = host_list(xp, xp.cumsum(xp.bincount(flat, minlength=n)))
        groups = [(e, lo, hi) for e, (lo, hi) in enumerate(zip([0] + ends[:-1], ends, strict=True))
                  if hi > lo]
        xp.take(batch.x, order // k, axis=0, out=xs)
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
    """GShard capacity: each routed expert gets a C-row buffer (E x C x d); the batch's
    assignments in slot-major, then token order fill it and the overflow is dropped; one
    batched matmul over the 3-D buffer. Shared experts see every token (never dropped).
    ``run`` returns ``MoeOutput(y, dropped)``, ``dropped`` the T x k drop set of the batch."""
    e_n, c, k, t, d = inst.experts, inst.capacity, inst.top_k, inst.tokens, inst.d_model
    slots = _CapacitySlots(xp, inst)
    w_in, w_down = put(inputs.w_in), put(inputs.w_down)
    w_in_routed, w_down_routed = w_in[:e_n], w_down[:e_n]
    disp, out = xp.zeros((e_n, c, d), inst.dtype), xp.empty((e_n, c, d), inst.dtype)
    h = xp.empty((e_n, c, inst.h_in), inst.dtype)
    a = xp.empty((e_n, c, inst.d_ff), inst.dtype)
    g, y = xp.empty((t * k, d), inst.dtype), xp.empty((t, d), inst.dtype)
    dropped = xp.zeros((t, k), bool)
    shared = _shared_ffn(xp, inst, w_in, w_down)
    result = MoeOutput(y, dropped)

    def run(batch):
        keep = slots.assign(batch)
        disp.fill(0)
        disp[slots.ids[keep], slots.pos[keep]] = batch.x[slots.token_of[keep]]
        xp.matmul(disp, w_in_routed, out=h)
        activate(xp, h, inst.activation, a)
        xp.matmul(a, w_down_routed, out=out)
        xp.take(out.reshape(e_n * c, d), slots.buffer_rows(), axis=0, out=g)
        xp.multiply(g, (slots.weights * keep)[:, None], out=g)  # dropped pairs weigh 0
        xp.sum(g.reshape(k, t, d), axis=0, out=y)
        shared(y, batch.x)
        xp.logical_not(keep.reshape(k, t).T, out=dropped)
        return result

    flops = _per_pair_flops(inst) * (e_n * c + t * inst.shared_experts)
    return Plan(run, flops, _all_weights_bytes(inst, inputs),
                {"drops_tokens": True, "capacity": c})


class _CapacitySlots:
    """Each (slot, token) assignment's place in its expert's C-row buffer, per batch.

    Assignments are slot-major (j = slot * T + token): all first choices before any second
    choice, each in token order, as the capacity rule ranks them."""

    def __init__(self, xp, inst):
        k, t, pairs = inst.top_k, inst.tokens, inst.tokens * inst.top_k
        self.xp, self.experts, self.c = xp, inst.experts, inst.capacity
        self.ids_kt = xp.empty((k, t), _ids(xp, inst.experts))
        self.weights_kt = xp.empty((k, t), inst.dtype)
        self.ids, self.weights = self.ids_kt.reshape(-1), self.weights_kt.reshape(-1)
        self.token_of = xp.tile(xp.arange(t), k)
        self.all_pairs = xp.arange(pairs)
        self.pos, self.rows = xp.empty(pairs, np.int64), xp.empty(pairs, np.int64)

    def assign(self, batch):
        """Load the batch's routing slot-major; ``pos`` = rank within the expert; the kept mask."""
        xp = self.xp
        self.ids_kt[...] = batch.expert_idx.T
        self.weights_kt[...] = batch.expert_weight.T
        order = stable_argsort(xp, self.ids)
        counts = xp.bincount(self.ids, minlength=self.experts)
        starts = xp.cumsum(counts) - counts
        self.pos[order] = self.all_pairs - starts[self.ids[order]]
        return self.pos < self.c

    def buffer_rows(self):
        """Row of each assignment in the flat (E*C) output buffer (a dropped one: any row of
        its expert; it weighs 0). E*C may exceed the small id type: int64 here."""
        xp = self.xp
        xp.multiply(self.ids, self.c, out=self.rows, dtype=np.int64)
        xp.add(self.rows, xp.minimum(self.pos, self.c - 1), out=self.rows)
        return self.rows


def _shared_ffn(xp, inst, w_in, w_down):
    """``add(y, x)``: y += FFN_s(x) for each shared expert s, on all tokens."""
    t, d = inst.tokens, inst.d_model
    h = xp.empty((t, inst.h_in), inst.dtype)
    a = xp.empty((t, inst.d_ff), inst.dtype)
    ys = xp.empty((t, d), inst.dtype)
    ids = range(inst.experts, inst.experts + inst.shared_experts)

    def add(y, x):
        for e in ids:
            xp.matmul(x, w_in[e], out=h)
            activate(xp, h, inst.activation, a)
            xp.matmul(a, w_down[e], out=ys)
            y += ys

    return add
