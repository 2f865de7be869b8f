"""CPU MoE kernels (numpy + the BLAS it links): dense, loop, grouped, capacity.

``loop`` is the common naive implementation (as in Hugging Face's Mixtral block): for each
expert, a boolean mask over all (token, slot) pairs, a gather, the FFN and a fancy-index
add into the output. ``grouped`` is ``kernels.moe.cpu_grouped`` (options ``chunk_rows``, ``workers``,
``blas_threads``: 0 keeps the BLAS library's own threading; without ``workers`` it picks
expert-parallel threads for prefill-sized batches, see ``_auto_parallelism``);
``dense`` and ``capacity`` are ``kernels.moe.plans`` run with ``xp = numpy``. Every
``run(batch)`` takes a ``MoeBatch`` (host arrays: ``put`` is the identity on the CPU).
"""

from __future__ import annotations

import os

import numpy as np

from kernels.moe import plans
from kernels.moe.ops import activate, output_to
from suite.registry import register_kernel
from suite.workload import Prepared


def _prepared(plan: plans.Plan) -> Prepared:
    """The harness's view of a plan; ``to_host`` copies, as the kernels reuse buffers."""
    return Prepared(run=plan.run, to_host=lambda out: output_to(np.array, out),
                    flops=plan.flops, bytes_min=plan.bytes_min, semantics=dict(plan.semantics))


@register_kernel("moe", "dense", device="cpu",
                 description="every expert on every token, dense combine (baseline)")
def dense(instance, inputs, ctx):
    return _prepared(plans.make_dense(np, np.asarray, instance, inputs))


@register_kernel("moe", "grouped", device="cpu", needs=("numba",),
                 description="sort by expert once, contiguous per-expert GEMMs (dropless)")
def grouped(instance, inputs, ctx):
    from kernels.moe.cpu_grouped import make_grouped_cpu  # numba: imported when used
    opts = {k: int(v) for k, v in ctx.options.items()
            if k in ("chunk_rows", "workers", "blas_threads")}
    if "workers" not in opts:
        opts.update(_auto_parallelism(instance.tokens * instance.top_k))  # routed pairs
    return _prepared(make_grouped_cpu(instance, inputs, **opts))


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
    return _prepared(plans.make_capacity(np, np.asarray, instance, inputs))


@register_kernel("moe", "loop", device="cpu",
                 description="per-expert loop: boolean mask, gather, FFN, index add")
def loop(instance, inputs, ctx):
    w_in, w_down = inputs.w_in, inputs.w_down
    ff, act, routed = instance.d_ff, instance.activation, instance.experts
    shared = range(routed, routed + instance.shared_experts)

    def run(batch):
        x, idx, weight = batch.x, batch.expert_idx, batch.expert_weight
        y = np.zeros_like(x)
        for e in range(routed):
            tok, slot = np.nonzero(idx == e)
            if tok.size == 0:
                continue
            h = x[tok] @ w_in[e]
            a = activate(np, h, act, np.empty((tok.size, ff), x.dtype))
            y[tok] += (a @ w_down[e]) * weight[tok, slot, None]
        for e in shared:  # always-on experts: a dense FFN over every token
            a = activate(np, x @ w_in[e], act, np.empty((x.shape[0], ff), x.dtype))
            y += a @ w_down[e]
        return y

    pairs = instance.tokens * (instance.top_k + instance.shared_experts)
    flops = 2.0 * instance.d_model * ff * (3 if instance.gated else 2) * pairs
    blas_threads = ctx.options.get("blas_threads")
    return Prepared(run=_blas_limited(run, int(blas_threads)) if blas_threads else run,
                    flops=flops, info={"blas_threads": blas_threads} if blas_threads else {})


def _blas_limited(run, threads: int):
    """``run`` with BLAS held to ``threads`` (the option ``blas_threads``): a diagnostic that
    separates a kernel's scheduling from its algorithm (docs/moe.md)."""
    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController().select(user_api="blas")

    def limited(batch):
        with blas.limit(limits=threads):
            return run(batch)

    return limited
