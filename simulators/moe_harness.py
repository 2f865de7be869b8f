"""MoE layers on the simulated array: the expert GEMMs of a layer with its real routing.

Kernels on ``sim`` for the ``moe`` family:

- ``moe/dense``: every expert on every token (the family's dense baseline): per expert
  two GEMMs, ``T x d @ d x h_in`` (gate|up fused for SwiGLU) and ``T x d_ff @ d_ff x d``;
- ``moe/grouped``: the dropless grouped layer: each routed expert runs its own ``t_e``
  tokens (the per-expert counts of the routing, so load imbalance shows as more folds on
  the busy experts and idle experts cost nothing); shared experts run every token.

Cycles, energy and traffic are the sums over the layer's GEMMs (``SystolicArray.simulate_gemm``
per GEMM; fill/drain and DRAM stalls included). The counts come from batch 0's routing
(every batch of an instance uses the same router and size, so their counts differ only by
sampling). ``run(batch)`` computes the layer in float64 from what the hardware holds, so
the harness validates the output like any other kernel's. Activation functions and the
combine are not modelled (vector units; a few percent of the MACs).
"""

from __future__ import annotations

import numpy as np

from simulators.mapping import Gemm
from simulators.systolic import SystolicArray
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workload import Prepared


def _array(ctx) -> SystolicArray:
    array = getattr(ctx.device, "array", None)
    if array is None:
        raise Unsupported(f"needs a sim:<hw> device, got {ctx.device.name}")
    return array.dense  # expert weights are dense: no zeros for the PEs to skip


def expert_gemms(instance, tokens: int, name: str) -> list[Gemm]:
    """The two GEMMs of one expert FFN on ``tokens`` tokens (none for an idle expert)."""
    if tokens == 0:
        return []
    return [Gemm(f"{name}.in", m=tokens, n=instance.h_in, k=instance.d_model),
            Gemm(f"{name}.down", m=tokens, n=instance.d_model, k=instance.d_ff)]


def tokens_per_expert(instance, expert_idx: np.ndarray) -> np.ndarray:
    """Routed (token, slot) pairs per expert, then every token for each shared expert."""
    routed = np.bincount(np.asarray(expert_idx).ravel(), minlength=instance.experts)
    shared = np.full(instance.shared_experts, instance.tokens, dtype=routed.dtype)
    return np.concatenate([routed[: instance.experts], shared])


def _simulated(array: SystolicArray, gemms: list[Gemm]) -> dict:
    totals = {"time_s": 0.0, "energy_j": 0.0, "macs": 0, "total_cycles": 0,
              "stall_cycles": 0, "dram_bytes": 0.0, "gemms": len(gemms)}
    for gemm in gemms:
        report = array.simulate_gemm(gemm, compare_dense=False)
        totals["time_s"] += report.time_s
        totals["energy_j"] += report.energy_j
        for key in ("macs", "total_cycles", "stall_cycles", "dram_bytes"):
            totals[key] += getattr(report, key)
    return totals


def _prepared(instance, inputs, totals: dict) -> Prepared:
    from suite.workloads.moe import combine_float64

    def run(batch):
        return combine_float64(inputs, batch, instance.activation).astype(instance.dtype)

    item = instance.dtype.itemsize
    info = {k: totals[k] for k in ("total_cycles", "stall_cycles", "dram_bytes", "gemms")}
    info["hw"] = totals["hw"]
    return Prepared(run=run, flops=2.0 * totals["macs"], simulated_time_s=totals["time_s"],
                    energy_j=totals["energy_j"], info=info,
                    bytes_min=totals["dram_bytes"] or float(item * instance.tokens))


@register_kernel("moe", "dense", device="sim",
                 description="simulated array: every expert on every token (baseline)")
def sim_moe_dense(instance, inputs, ctx) -> Prepared:
    array = _array(ctx)
    gemms = [g for e in range(instance.experts + instance.shared_experts)
             for g in expert_gemms(instance, instance.tokens, f"expert{e}")]
    totals = _simulated(array, gemms)
    totals["hw"] = ctx.device.cfg.name
    return _prepared(instance, inputs, totals)


@register_kernel("moe", "grouped", device="sim",
                 description="simulated array: each expert on its routed tokens (dropless)")
def sim_moe_grouped(instance, inputs, ctx) -> Prepared:
    array = _array(ctx)
    counts = tokens_per_expert(instance, inputs.batch.expert_idx)
    gemms = [g for e, t in enumerate(counts.tolist())
             for g in expert_gemms(instance, int(t), f"expert{e}")]
    totals = _simulated(array, gemms)
    totals["hw"] = ctx.device.cfg.name
    prepared = _prepared(instance, inputs, totals)
    prepared.info["tokens_per_expert_max"] = int(counts.max(initial=0))
    prepared.info["experts_active"] = int(np.count_nonzero(counts))
    return prepared
