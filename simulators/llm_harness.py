"""A pruned Llama model's step on the simulated array: its linears with their real masks.

Kernels on ``sim`` for the ``pruned-llm`` family:

- ``pruned-llm/dense``: every GEMM of the step dense (the speedup baseline);
- ``pruned-llm/nm``: every pruned linear layer with its real keep-mask, so the PEs skip the
  zeros of whatever N:M structure each weight tile has that the config supports (tiles no
  supported pattern covers run dense); ``Unsupported`` on a config without sparsity.

The step's GEMMs (``model_gemms``): each block linear ``T x in @ in x out`` (T = tokens the
phase pushes through the layer), the LM head on the rows it runs on (decode: B; prefill:
the last token), and attention as dense GEMMs: decode, per sequence and KV head,
``g x hd @ hd x (C+1)`` and ``g x (C+1) @ (C+1) x hd`` (g query heads share a KV head);
prefill, per KV head, ``gT x hd @ hd x T`` and ``gT x T @ T x hd`` (the causal half is not
skipped). Norms, RoPE, softmax and SwiGLU are not modelled (vector units, a few percent
of the work). Cycles, energy and traffic are sums of ``SystolicArray.simulate_gemm`` per
GEMM; identical GEMMs are simulated once and counted. ``run(batch)`` is the pruned model's
float32 step (the same as the CPU baseline's), so the harness validates these rows too.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.mapping import Gemm
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workload import Prepared

PARTS = ("linears", "lm-head", "attention")


@dataclass(frozen=True)
class StepGemm:
    """One GEMM of the step, which part of the model it is, its mask's layer, how many."""

    gemm: Gemm
    part: str
    layer: str | None = None
    count: int = 1


def model_gemms(cfg, phase) -> list[StepGemm]:
    from kernels.pruning.sequential import block_linears

    t = phase.tokens
    out = []
    for name in block_linears(cfg.num_layers):
        rows, inputs = cfg.linear_shape(name.rsplit(".", 1)[-1])
        out.append(StepGemm(Gemm(name, m=t, n=rows, k=inputs), "linears", name))
    head_rows = phase.batch if phase.kind == "decode" else 1
    out.append(StepGemm(Gemm("lm-head", m=head_rows, n=cfg.vocab_size, k=cfg.hidden_size),
                        "lm-head"))
    return out + _attention_gemms(cfg, phase)


def _attention_gemms(cfg, phase) -> list[StepGemm]:
    g, hd, kvh, layers = (cfg.num_heads // cfg.num_kv_heads, cfg.head_dim, cfg.num_kv_heads,
                          cfg.num_layers)
    if phase.kind == "decode":
        c, copies = phase.context + 1, layers * kvh * phase.batch
        return [StepGemm(Gemm("attn-scores", m=g, n=c, k=hd), "attention", count=copies),
                StepGemm(Gemm("attn-values", m=g, n=hd, k=c), "attention", count=copies)]
    t, copies = phase.context, layers * kvh
    return [StepGemm(Gemm("attn-scores", m=g * t, n=t, k=hd), "attention", count=copies),
            StepGemm(Gemm("attn-values", m=g * t, n=hd, k=t), "attention", count=copies)]


def simulate_step(array, gemms: list[StepGemm], pruned=None) -> dict:
    """Sum the reports of every GEMM; ``pruned`` given: linears run with their masks."""
    totals = {"time_s": 0.0, "energy_j": 0.0, "macs": 0, "total_cycles": 0,
              "stall_cycles": 0, "dram_bytes": 0.0, "gemms": 0,
              "cycles_by_part": dict.fromkeys(PARTS, 0)}
    for item in gemms:
        sparse = pruned is not None and item.layer is not None
        engine = array if sparse else array.dense
        mask = pruned.mask(item.layer) if sparse else None
        report = engine.simulate_gemm(item.gemm, weight_mask=mask, compare_dense=False)
        totals["time_s"] += item.count * report.time_s
        totals["energy_j"] += item.count * report.energy_j
        for key in ("macs", "total_cycles", "stall_cycles", "dram_bytes"):
            totals[key] += item.count * getattr(report, key)
        totals["gemms"] += item.count
        totals["cycles_by_part"][item.part] += item.count * report.total_cycles
    return totals


def _device(ctx):
    if getattr(ctx.device, "array", None) is None:
        raise Unsupported(f"needs a sim:<hw> device, got {ctx.device.name}")
    return ctx.device


def _prepare(instance, ctx, sparse: bool) -> Prepared:
    from suite.workloads.pruned_llm_system import info_of, shared_pruned, shared_quality, step

    device = _device(ctx)
    if sparse and device.cfg.sparsity.mode == "dense":
        raise Unsupported(f"hw config {device.cfg.name} supports no sparsity "
                          "(sparsity.mode: dense)")
    pruned = shared_pruned(ctx, instance)
    quality = shared_quality(ctx, instance, pruned)
    config = pruned.model.config
    totals = simulate_step(device.array, model_gemms(config, instance.phase),
                           pruned if sparse else None)
    run, put = step(ctx, instance, pruned.model, pruned)
    info = info_of(pruned, quality, hw=device.cfg.name, total_cycles=totals["total_cycles"],
                   stall_cycles=totals["stall_cycles"], dram_bytes=totals["dram_bytes"],
                   gemms=totals["gemms"], cycles_by_part=totals["cycles_by_part"])
    return Prepared(run=run, put=put, flops=2.0 * totals["macs"],
                    bytes_min=totals["dram_bytes"] or None,
                    simulated_time_s=totals["time_s"], energy_j=totals["energy_j"], info=info)


@register_kernel("pruned-llm", "dense", device="sim",
                 description="simulated array: every GEMM of the step dense (baseline)")
def sim_llm_dense(instance, inputs, ctx) -> Prepared:
    return _prepare(instance, ctx, sparse=False)


def _sparse_only(instance) -> str | None:
    if instance.spec.method == "dense":
        return "the dense model has no pruned weights to skip"
    return None


@register_kernel("pruned-llm", "nm", device="sim", supports=_sparse_only,
                 description="simulated array: pruned linears skip the N:M zeros of their "
                             "real masks that the hw supports")
def sim_llm_nm(instance, inputs, ctx) -> Prepared:
    return _prepare(instance, ctx, sparse=True)
