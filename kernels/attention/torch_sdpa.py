"""PyTorch's ``scaled_dot_product_attention`` as the dense peer, on ``cpu`` and ``torch-cuda``.

``put`` wraps the batch's arrays as tensors on the kernel's device once (untimed); for a
decode call with several queries it builds the bottom-right causal mask there too.
Grouped-query attention goes through ``enable_gqa=True`` where this torch has it, else K
and V are repeated per query head in ``put`` (the kernel then reads H / Hkv times the KV
bytes; the record says which). torch is imported inside the kernel: a machine without it
gets skipped rows with the reason. FLOPs and bytes are dense attention's (``costs``).
Main entries: ``sdpa_parts(instance, device)``, the ``sdpa`` kernels.
"""

from __future__ import annotations

import inspect

import numpy as np

from kernels.attention.common import make_prepared
from suite.registry import register_kernel
from suite.workloads.attention_batch import AttentionOutput


def _has_gqa(torch) -> bool:
    try:
        params = inspect.signature(torch.nn.functional.scaled_dot_product_attention).parameters
    except (TypeError, ValueError):
        return "enable_gqa" in (torch.nn.functional.scaled_dot_product_attention.__doc__ or "")
    return "enable_gqa" in params


def sdpa_parts(instance, device: str):
    """(run, put, to_host, info) of SDPA on ``device`` ("cpu" or "cuda")."""
    import torch

    gqa = _has_gqa(torch)
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def put(batch):
        q, k, v = (torch.from_numpy(np.ascontiguousarray(a)).to(device)
                   for a in (batch.q, batch.k, batch.v))
        if not gqa and batch.group > 1:
            k, v = (t.repeat_interleave(batch.group, dim=1) for t in (k, v))
        mask = None
        n_q, length = q.shape[2], k.shape[2]
        if instance.phase == "decode" and n_q > 1:
            keys = torch.arange(length, device=device)
            mask = keys[None, :] <= torch.from_numpy(batch.q_pos).to(device)[:, None]
        return q, k, v, mask

    def run(feed):
        q, k, v, mask = feed
        extra = {"enable_gqa": True} if gqa and q.shape[1] != k.shape[1] else {}
        causal = instance.phase == "prefill" and q.shape[2] > 1
        with torch.no_grad():
            out = sdpa(q, k, v, attn_mask=mask, is_causal=causal, **extra)
        return AttentionOutput(out, None)

    def to_host(output):
        return AttentionOutput(output.out.detach().cpu().numpy(), None)

    info = {"implementation": f"torch {torch.__version__} SDPA",
            "gqa": "enable_gqa" if gqa else "K/V repeated per query head",
            "threads": int(torch.get_num_threads())}
    return run, put, to_host, info


def _prepare(instance, device):
    run, put, to_host, info = sdpa_parts(instance, device)
    prepared = make_prepared(instance, "dense", {}, run, None, put=put, info=info)
    prepared.to_host = to_host
    return prepared


@register_kernel("attention", "sdpa", device="cpu", needs=("torch",),
                 description="torch scaled_dot_product_attention (CPU flash kernel)")
def sdpa_cpu(instance, inputs, ctx):
    return _prepare(instance, "cpu")


@register_kernel("attention", "sdpa", device="torch-cuda", needs=("torch",),
                 description="torch scaled_dot_product_attention on the GPU")
def sdpa_cuda(instance, inputs, ctx):
    return _prepare(instance, "cuda")


@register_kernel("attention", "dense", device="torch-cuda", needs=("torch",),
                 description="torch SDPA: the dense baseline on torch-cuda")
def dense_cuda(instance, inputs, ctx):
    return _prepare(instance, "cuda")
