"""CUDA MoE kernels through CuPy: dense, grouped, capacity (``kernels.moe.plans`` with
``xp = cupy``). CuPy is imported inside each kernel, so a machine without it skips rows.
``put`` uploads each host ``MoeBatch`` once, before timing; ``to_host`` brings y (and a
capacity kernel's drop set) back for the check.
"""

from __future__ import annotations

from kernels.moe import plans
from kernels.moe.ops import batch_to, output_to
from suite.registry import register_kernel
from suite.workload import Prepared


def _prepare(make, instance, inputs) -> Prepared:
    import cupy

    plan = make(cupy, cupy.asarray, instance, inputs)
    return Prepared(run=plan.run, put=lambda batch: batch_to(cupy.asarray, batch),
                    to_host=lambda out: output_to(cupy.asnumpy, out),
                    flops=plan.flops, bytes_min=plan.bytes_min, semantics=dict(plan.semantics))


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
