"""Array helpers shared by the MoE kernels, written once for numpy and CuPy (``xp``).

``activate`` applies the expert nonlinearity into a preallocated buffer with no
temporaries (the reference's float64 twin is ``suite.workloads.moe.activate64``);
``RoutingFeed`` lays a batch's top-k out as flat (token, slot) arrays, with the always-on
shared experts appended, into buffers made once.
"""

from __future__ import annotations

import contextlib

import numpy as np

from suite.workloads.moe import MoeBatch, MoeOutput

GELU_C = 0.7978845608028654  # sqrt(2 / pi): the tanh form of GELU


def activate(xp, h, activation: str, out):
    """swiglu: silu(gate) * up over the fused [gate | up]; gelu (tanh form); relu."""
    quiet = np.errstate(over="ignore") if xp is np else contextlib.nullcontext()
    with quiet:  # exp(-gate) may overflow to inf for very negative gates: silu is then 0
        if activation == "swiglu":
            ff = out.shape[-1]
            gate, up = h[..., :ff], h[..., ff:]
            xp.negative(gate, out=out)
            xp.exp(out, out=out)
            out += 1
            xp.divide(gate, out, out=out)
            out *= up
        elif activation == "gelu":
            xp.multiply(h, h, out=out)
            out *= h
            out *= 0.044715
            out += h
            out *= GELU_C
            xp.tanh(out, out=out)
            out += 1
            out *= h
            out *= 0.5
        else:
            xp.maximum(h, 0, out=out)
    return out


class RoutingFeed:
    """A batch's routing as flat (token, slot) arrays over the routed and shared experts.

    The buffers (T x (k + S) ids of ``ids_dtype``, weights; the shared experts E.. with
    weight 1) are made once, at prepare; ``flat(batch)`` copies the batch's top-k into them
    each call, or hands back the batch's own arrays, uncopied, when there are no shared
    experts and the ids already have the wanted dtype (int32 on the GPU)."""

    def __init__(self, xp, inst, ids_dtype):
        t, k, s, e = inst.tokens, inst.top_k, inst.shared_experts, inst.experts
        self.k, self.shared = k, s
        self.ids = xp.empty((t, k + s), ids_dtype)
        self.weights = xp.ones((t, k + s), inst.dtype)
        if s:
            self.ids[:, k:] = xp.arange(e, e + s, dtype=ids_dtype)
        self.ids_flat, self.weights_flat = self.ids.reshape(-1), self.weights.reshape(-1)

    def flat(self, batch):
        """(ids, weights), each T*(k + S) long in (token, slot) order, for ``batch``."""
        if self.shared:
            self.weights[:, :self.k] = batch.expert_weight
            weights = self.weights_flat
        else:
            weights = batch.expert_weight.reshape(-1)
        if self.shared or batch.expert_idx.dtype != self.ids.dtype:
            self.ids[:, :self.k] = batch.expert_idx
            return self.ids_flat, weights
        return batch.expert_idx.reshape(-1), weights


def batch_to(convert, batch: MoeBatch) -> MoeBatch:
    """``batch`` with each array passed through ``convert`` (e.g. ``cupy.asarray``)."""
    return MoeBatch(convert(batch.x), convert(batch.expert_idx), convert(batch.expert_weight))


def output_to(convert, out):
    """A kernel's output (y, or ``MoeOutput``) with each array passed through ``convert``
    (e.g. ``cupy.asnumpy``; ``np.array`` for a copy the checker may keep)."""
    if isinstance(out, MoeOutput):
        return MoeOutput(convert(out.y), convert(out.dropped))
    return convert(out)


def id_dtype(n_experts: int):
    """Small integer ids so numpy's stable argsort uses radix sort."""
    return np.int16 if n_experts < 2**15 else np.int32


def host_list(xp, arr) -> list:
    """A small device array as a Python list (a sync on the GPU)."""
    return (arr if xp is np else arr.get()).tolist()


def stable_argsort(xp, a):
    """A stable argsort: numpy needs ``kind="stable"``; CuPy's is always stable and older
    CuPy versions reject the ``kind`` argument."""
    return np.argsort(a, kind="stable") if xp is np else xp.argsort(a)
