"""The pruned-LLM family's CPU backends: every pruned linear layer through one SpMM kernel.

Registers ``dense`` (numpy BLAS on the zero-filled weights: the baseline), the kernels of
unstructured formats (``scipy-csr``, ``csr-numba``, ``mkl-csr``, ``csr16-numba``,
``bitmap-numba``; they run N:M-pruned weights too) and ``nm-numba`` (N:M patterns only)
for ``pruned-llm`` on ``cpu``; a kernel the spmm package lacks makes skipped rows. Each prepares the SpMM kernel of the same name
(``registry.find_kernel("spmm", name, "cpu")``) once per linear layer, on that layer's
pruned weight and for the phase's token count, and plugs it into the model with
``LlamaModel.with_linears`` (``column_linear``: the registry's ``X (in x T)`` convention).
Every backend, the baseline included, goes through the same adapter, so only the matrix
kernel differs between rows. The LM head, embeddings, norms and attention are numpy in
all of them. Cost of a prepare: the kernel's own format conversion for ~200 layers
(a CSR or N:M copy of the weights) and one warm-up call per layer.
"""

from __future__ import annotations

import numpy as np

from kernels.pruning.sequential import block_linears
from suite.context import KernelContext
from suite.errors import Unsupported
from suite.registry import find_kernel, register_kernel
from suite.workload import Prepared

UNSTRUCTURED_KERNELS = ("scipy-csr", "csr-numba", "mkl-csr", "csr16-numba", "bitmap-numba")
NEEDS = {"dense": ("numpy",), "scipy-csr": ("scipy",), "csr-numba": ("numba", "scipy"),
         "mkl-csr": ("sparse_dot_mkl",), "csr16-numba": ("numba",), "bitmap-numba": ("numba",),
         "nm-numba": ("numba",)}


def _sparse_only(instance) -> str | None:
    if instance.spec.method == "dense":
        return "the dense model has no pruned weights to skip"
    return None


def _nm_only(instance) -> str | None:
    if instance.pattern.kind != "nm":
        return f"needs an N:M pattern; got {instance.pattern.label}"
    return _sparse_only(instance)


def layer_instance(weight: np.ndarray, tokens: int, pattern_label: str):
    """An SpMM instance for one layer: ``M x K`` weight, ``tokens`` activation columns."""
    from suite.workloads.spmm import SpmmInstance

    params = {"shape": list(weight.shape), "n": tokens, "scale": 1, "dtype": "float32",
              "pattern": pattern_label, "mask": "magnitude", "weights": "random"}
    return SpmmInstance(params, 0)


def layer_kernels(kernel: str, pruned, tokens: int, pattern_label: str, device) -> dict:
    """name -> the SpMM kernel's ``Prepared`` for every pruned linear of the model."""
    from suite.workloads.spmm import SpmmInputs

    spec = find_kernel("spmm", kernel, device.kind)
    if spec is None:
        raise Unsupported(f"no spmm kernel {kernel!r} on {device.kind}")
    reason = spec.missing_needs()
    if reason:
        raise Unsupported(reason)
    prepared = {}
    for name in block_linears(pruned.model.config.num_layers):
        weight = pruned.weights[name]
        inputs = SpmmInputs(weight, pruned.mask(name),
                            np.zeros((weight.shape[1], tokens), np.float32))
        layer = layer_instance(weight, tokens, pattern_label)
        prepared[name] = spec.prepare(layer, inputs, KernelContext(device=device))
    return prepared


def prepare_backend(kernel: str, instance, inputs, ctx) -> Prepared:
    """The pruned model with every block linear run by SpMM ``kernel``."""
    from suite.data.llama import column_linear
    from suite.workloads.pruned_llm_system import (
        head_and_attention,
        info_of,
        shared_pruned,
        shared_quality,
        step,
    )

    pruned = shared_pruned(ctx, instance)
    quality = shared_quality(ctx, instance, pruned)
    layers = layer_kernels(kernel, pruned, instance.phase.tokens, instance.pattern.label,
                           ctx.device)
    model = pruned.model.with_linears({n: column_linear(p.run) for n, p in layers.items()})
    run, put = step(ctx, instance, model, pruned)
    extra_flops, extra_bytes = head_and_attention(model.config, instance.phase)
    formats = sum(int(p.info.get("format_bytes", 0)) for p in layers.values())
    return Prepared(run=run, put=put,
                    flops=sum(p.flops or 0.0 for p in layers.values()) + extra_flops,
                    bytes_min=sum(p.bytes_min or 0.0 for p in layers.values()) + extra_bytes,
                    info=info_of(pruned, quality, backend=f"spmm/{kernel}",
                                 format_bytes=formats, layers=len(layers)))


def _register(kernel: str, description: str, supports=None) -> None:
    def prepare(instance, inputs, ctx):
        return prepare_backend(kernel, instance, inputs, ctx)

    prepare.__name__ = f"pruned_llm_{kernel.replace('-', '_')}"
    register_kernel("pruned-llm", kernel, device="cpu", needs=NEEDS[kernel],
                    description=description, supports=supports)(prepare)


_register("dense", "every pruned linear as numpy BLAS on the zero-filled weight (baseline)")
for _name in UNSTRUCTURED_KERNELS:
    _register(_name, f"every pruned linear through spmm/{_name}", _sparse_only)
_register("nm-numba", "every pruned linear through spmm/nm-numba (N:M values + indices)",
          _nm_only)
