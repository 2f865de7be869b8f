"""Array helpers shared by the MoE kernels, written once for numpy and CuPy (``xp``).

``activate`` applies the expert nonlinearity into a preallocated buffer with no
temporaries (the reference's float64 twin is ``suite.workloads.moe.activate64``);
``full_routing`` appends the always-on shared experts to the routed top-k.
"""

from __future__ import annotations

import contextlib

import numpy as np

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


def full_routing(inputs) -> tuple[np.ndarray, np.ndarray]:
    """Expert ids and weights, T x (k + shared): shared experts E.. get weight 1."""
    t = inputs.x.shape[0]
    shared = np.arange(inputs.experts, inputs.experts + inputs.shared_experts, dtype=np.int32)
    idx = np.hstack([inputs.expert_idx, np.broadcast_to(shared, (t, shared.size))])
    ones = np.ones((t, shared.size), dtype=inputs.expert_weight.dtype)
    return np.ascontiguousarray(idx), np.hstack([inputs.expert_weight, ones])


def dense_combine_weights(inputs) -> np.ndarray:
    """T x (E + shared) combine matrix: the routing weight, 0 where a token is not routed."""
    idx, weight = full_routing(inputs)
    cw = np.zeros((idx.shape[0], inputs.experts + inputs.shared_experts), weight.dtype)
    np.put_along_axis(cw, idx, weight, axis=1)
    return cw


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
