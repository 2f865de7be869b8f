"""The SpMM family: sparse weights (M x K) times dense activations (K x N).

Grid parameters (see ``PARAMS``): ``shape`` (a real layer preset or ``[M, K]``), ``n``
(activation columns: tokens x batch), ``scale`` (divides a preset's M and K), ``dtype``,
``pattern`` (see ``spmm_patterns``) and ``mask`` (magnitude or random). Kernels live in
``kernels.spmm``; this module only defines instances, their inputs, reference and checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from suite.checks import as_checked_float64, rel_error
from suite.errors import ParamError
from suite.registry import FamilySpec, register_family
from suite.workload import Check, Prepared, Work, WorkloadInstance
from suite.workloads.spmm_patterns import (
    MASK_METHODS,
    PATTERN_HELP,
    Pattern,
    make_mask,
    parse_pattern,
)

# (M, K) = (output features, input features) of real layers.
LAYER_SHAPES: dict[str, tuple[int, int]] = {
    "bert-base.attn-qkv": (2304, 768),
    "bert-base.attn-out": (768, 768),
    "bert-base.ffn-up": (3072, 768),
    "bert-base.ffn-down": (768, 3072),
    "llama-7b.attn-q": (4096, 4096),
    "llama-7b.mlp-up": (11008, 4096),
    "llama-7b.mlp-down": (4096, 11008),
}
DTYPES = ("float32", "float16", "float64")
# Relative Frobenius error allowed per dtype: a few ulps times sqrt(K) growth.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4, "float16": 2e-2}

PARAMS = {
    "shape": f"[M, K] or a layer: {', '.join(LAYER_SHAPES)}",
    "n": "activation columns (tokens), integer >= 1; default 256",
    "scale": "integer >= 1 dividing a layer preset's M and K; default 1",
    "dtype": f"one of {', '.join(DTYPES)}; default float32",
    "pattern": PATTERN_HELP,
    "mask": f"one of {', '.join(MASK_METHODS)}; default magnitude",
}
DEFAULTS = {"n": 256, "scale": 1, "dtype": "float32", "mask": "magnitude"}


@dataclass
class SpmmInputs:
    """``weight``: M x K in the instance dtype with pruned entries zero; ``mask`` its
    non-zero pattern; ``x``: K x N activations."""

    weight: np.ndarray
    mask: np.ndarray
    x: np.ndarray


class SpmmInstance(WorkloadInstance):
    family = "spmm"

    def __init__(self, params: dict[str, Any], seed: int):
        self.params = params
        self.seed = seed
        self.m, self.k = _resolve_shape(params["shape"], params["scale"])
        self.n = params["n"]
        self.dtype = np.dtype(params["dtype"])
        self.pattern: Pattern = parse_pattern(params["pattern"])
        self.mask_method = params["mask"]

    @property
    def label(self) -> str:
        shape = self.params["shape"]
        name = shape if isinstance(shape, str) else "square" if self.m == self.k else "rect"
        return f"{name} {self.m}x{self.k}x{self.n} {self.dtype.name} {self.pattern.label}"

    def build_inputs(self) -> SpmmInputs:
        rng = np.random.default_rng(self.seed)
        dense = rng.standard_normal((self.m, self.k))
        mask = make_mask(dense, self.pattern, self.mask_method, rng)
        weight = np.where(mask, dense, 0.0).astype(self.dtype)
        x = rng.standard_normal((self.k, self.n)).astype(self.dtype)
        return SpmmInputs(weight, mask, x)

    def reference(self, inputs: SpmmInputs) -> np.ndarray:
        # The reference sees the same rounded inputs, so only the kernel's arithmetic counts.
        return inputs.weight.astype(np.float64) @ inputs.x.astype(np.float64)

    def work(self, inputs: SpmmInputs) -> Work:
        item = self.dtype.itemsize
        nnz = int(np.count_nonzero(inputs.weight))
        return Work(flops_dense=2.0 * self.m * self.k * self.n,
                    flops_useful=2.0 * nnz * self.n,
                    bytes_min=float(item * (nnz + self.k * self.n + self.m * self.n)),
                    units=1.0, unit_name="op")

    def check(self, output: Any, reference: np.ndarray, inputs: SpmmInputs,
              prepared: Prepared) -> Check:
        return check_matrix(output, reference, TOLERANCE[self.dtype.name])


def check_matrix(output: Any, reference: np.ndarray, tolerance: float) -> Check:
    """Relative Frobenius error against the float64 reference (absolute if it is zero)."""
    out64, failed = as_checked_float64(output, reference)
    if failed is not None:
        return failed
    error = rel_error(out64, reference)
    valid = error <= tolerance
    reason = "" if valid else f"rel_error {error:.3g} > tolerance {tolerance:g}"
    return Check(valid, {"rel_error": error},
                 {"rel_error": {"value": error, "max": tolerance}}, reason)


def _resolve_shape(shape: Any, scale: int) -> tuple[int, int]:
    if isinstance(shape, str):
        m, k = LAYER_SHAPES[shape]
        return max(1, m // scale), max(1, k // scale)
    return int(shape[0]), int(shape[1])


def build(params: dict[str, Any], seed: int) -> SpmmInstance:
    """Validate one grid point and make the instance."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ParamError(unknown[0], params[unknown[0]], f"parameters {', '.join(PARAMS)}")
    full = {**DEFAULTS, **params}
    if "shape" not in full or "pattern" not in full:
        missing = "shape" if "shape" not in full else "pattern"
        raise ParamError(missing, None, PARAMS[missing])
    _validate(full)
    full["pattern"] = parse_pattern(full["pattern"]).label
    return SpmmInstance(full, seed)


def _validate(p: dict[str, Any]) -> None:
    shape = p["shape"]
    if isinstance(shape, str):
        if shape not in LAYER_SHAPES:
            raise ParamError("shape", shape, PARAMS["shape"])
    elif not (isinstance(shape, list) and len(shape) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)):
        raise ParamError("shape", shape, "[M, K] with integers >= 1, or " + PARAMS["shape"])
    for name in ("n", "scale"):
        if not isinstance(p[name], int) or isinstance(p[name], bool) or p[name] < 1:
            raise ParamError(name, p[name], PARAMS[name])
    if isinstance(shape, str) and min(LAYER_SHAPES[shape]) < p["scale"]:
        raise ParamError("scale", p["scale"], f"at most {min(LAYER_SHAPES[shape])} for {shape}")
    if p["dtype"] not in DTYPES:
        raise ParamError("dtype", p["dtype"], PARAMS["dtype"])
    if p["mask"] not in MASK_METHODS:
        raise ParamError("mask", p["mask"], PARAMS["mask"])
    m, k = _resolve_shape(shape, p["scale"])
    if m * k * 8 > 2**34:
        raise ParamError("shape", shape, "M*K*8 bytes <= 16 GiB (the float64 reference)")
    parse_pattern(p["pattern"])


def plot_speedup_vs_density(frame, out_dir):
    """Lazy import: matplotlib only when reports are drawn."""
    from suite.plots import speedup_vs_density
    return speedup_vs_density(frame, out_dir, family="spmm")


register_family(FamilySpec(
    name="spmm", build=build, params=PARAMS, baseline_kernel="dense",
    accuracy_metric="rel_error",
    description="sparse weights (M x K) x dense activations (K x N)",
    plot=plot_speedup_vs_density))
