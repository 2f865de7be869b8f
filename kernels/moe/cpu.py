"""CPU MoE kernels (numpy + the BLAS it links): dense, loop, grouped, capacity.

``loop`` is the common naive implementation (as in Hugging Face's Mixtral block): for each
expert, a boolean mask over all (token, slot) pairs, a gather, the FFN and a fancy-index
add into the output. ``grouped`` is ``kernels.moe.cpu_grouped`` (options ``chunk_rows``, ``workers``,
``blas_threads``: 0 keeps the BLAS library's own threading; without ``workers`` it picks
expert-parallel threads for prefill-sized batches, see ``_auto_parallelism``);
``dense`` and ``capacity`` are ``kernels.moe.plans`` run with ``xp = numpy``.
"""

from __future__ import annotations

import os

import numpy as np

from kernels.moe import plans
from kernels.moe.cpu_grouped import make_grouped_cpu
from kernels.moe.ops import activate, full_routing
from suite.registry import register_kernel
from suite.workloads.moe import MoePrepared
from suite.workloads.moe_routing import load_imbalance


def _prepared(plan: plans.Plan, inst, inputs) -> MoePrepared:
    info = {"load_imbalance": load_imbalance(inputs.expert_idx, inst.experts)}
    if plan.dropped is not None:
        info.update(capacity=inst.capacity)
    return MoePrepared(run=plan.run, flops=plan.flops, bytes_min=plan.bytes_min,
                       dropped=plan.dropped, info=info)


@register_kernel("moe", "dense", device="cpu",
                 description="every expert on every token, dense combine (baseline)")
def dense(instance, inputs, ctx):
    return _prepared(plans.make_dense(np, np.asarray, instance, inputs), instance, inputs)


@register_kernel("moe", "grouped", device="cpu",
                 description="sort by expert once, contiguous per-expert GEMMs (dropless)")
def grouped(instance, inputs, ctx):
    opts = {k: int(v) for k, v in ctx.options.items()
            if k in ("chunk_rows", "workers", "blas_threads")}
    if "workers" not in opts:
        opts.update(_auto_parallelism(inputs.expert_idx.size))
    plan = make_grouped_cpu(instance, inputs, **opts)
    return _prepared(plan, instance, inputs)


# Measured on 2 cores (docs/moe.md): with thousands of (token, expert) rows, one
# single-threaded GEMM stream per core beats multi-threaded BLAS inside each small expert
# GEMM (deepseek d256 T512: 9.0 vs 13.1 ms); in decode (tens of rows) the thread hand-off
# costs more than it saves (T8: 1.33 vs 0.51 ms), so one thread with BLAS's own threads.
EXPERT_PARALLEL_MIN_ROWS = 1024


def _auto_parallelism(pairs: int) -> dict[str, int]:
    cores = os.cpu_count() or 1
    if cores > 1 and pairs >= EXPERT_PARALLEL_MIN_ROWS:
        return {"workers": cores, "blas_threads": 1}
    return {"workers": 1}


@register_kernel("moe", "capacity", device="cpu",
                 description="GShard capacity-padded batched GEMM, drops overflow tokens")
def capacity(instance, inputs, ctx):
    return _prepared(plans.make_capacity(np, np.asarray, instance, inputs), instance, inputs)


@register_kernel("moe", "loop", device="cpu",
                 description="per-expert loop: boolean mask, gather, FFN, index add")
def loop(instance, inputs, ctx):
    idx, weight = full_routing(inputs)
    x, w_in, w_down = inputs.x, inputs.w_in, inputs.w_down
    ff, act = instance.d_ff, instance.activation

    def run():
        y = np.zeros_like(x)
        for e in range(w_in.shape[0]):
            tok, slot = np.nonzero(idx == e)
            if tok.size == 0:
                continue
            h = x[tok] @ w_in[e]
            a = activate(np, h, act, np.empty((tok.size, ff), x.dtype))
            y[tok] += (a @ w_down[e]) * weight[tok, slot, None]
        return y

    flops = 2.0 * instance.d_model * ff * (3 if instance.gated else 2) * idx.size
    return _prepared(plans.Plan(run, flops), instance, inputs)
