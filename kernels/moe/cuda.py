"""CUDA MoE kernels through CuPy: dense, grouped, capacity (``kernels.moe.plans`` with
``xp = cupy``). CuPy is imported inside each kernel, so a machine without it skips rows.
"""

from __future__ import annotations

from kernels.moe import plans
from suite.registry import register_kernel
from suite.workloads.moe import MoePrepared
from suite.workloads.moe_routing import load_imbalance


def _prepare(make, instance, inputs) -> MoePrepared:
    import cupy

    plan = make(cupy, cupy.asarray, instance, inputs)
    info = {"load_imbalance": load_imbalance(inputs.expert_idx, instance.experts)}
    prepared = MoePrepared(run=plan.run, flops=plan.flops, bytes_min=plan.bytes_min, info=info)

    def to_host(out):
        # The drop mask lives on the GPU; bring it back with the output, for the check.
        if plan.dropped is not None:
            prepared.dropped = cupy.asnumpy(plan.dropped)
        return cupy.asnumpy(out)

    prepared.to_host = to_host
    if plan.dropped is not None:
        prepared.info.update(capacity=instance.capacity)
    return prepared


@register_kernel("moe", "dense", device="cuda", needs=("cupy",),
                 description="every expert on every token, dense combine (baseline)")
def dense(instance, inputs, ctx):
    return _prepare(plans.make_dense, instance, inputs)


@register_kernel("moe", "grouped", device="cuda", needs=("cupy",),
                 description="sort by expert once, contiguous per-expert GEMMs (dropless)")
def grouped(instance, inputs, ctx):
    return _prepare(plans.make_grouped, instance, inputs)


@register_kernel("moe", "capacity", device="cuda", needs=("cupy",),
                 description="GShard capacity-padded batched GEMM, drops overflow tokens")
def capacity(instance, inputs, ctx):
    return _prepare(plans.make_capacity, instance, inputs)
