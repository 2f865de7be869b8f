"""The SpMM family: sparse weights (M x K) times dense activations (K x N).

Grid parameters (see ``PARAMS``): ``shape`` (a real layer preset or ``[M, K]``), ``n``
(activation columns: tokens x batch), ``scale`` (divides a preset's M and K), ``dtype``,
``pattern`` (see ``spmm_patterns``), ``mask`` (magnitude or random) and ``weights``:
``random`` (seeded Gaussian weights and activations) or a real layer such as
``smollm2.layer12.mlp-up`` (``suite.data.layers``): its dequantised weights pruned by
``mask``, its activations the inputs it sees on the calibration text; the layer fixes M
and K, so ``shape`` is left out. Kernels live in ``kernels.spmm``; this module only
defines instances, their inputs, reference and checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from suite.checks import as_checked_float64, rel_error
from suite.errors import ParamError
from suite.family import AccuracyMetric, Param, at_least, one_of
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

def _shape(value: Any) -> Any:
    if isinstance(value, str):
        if value not in LAYER_SHAPES:
            raise ValueError(f"[M, K] or a layer: {', '.join(LAYER_SHAPES)}")
        return value
    if not (isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"[M, K] with integers >= 1, or a layer: {', '.join(LAYER_SHAPES)}")
    return value


def _pattern(value: Any) -> str:
    return parse_pattern(value).label


def _weights(value: str) -> str:
    if value == "random":
        return value
    from suite.data.layers import parse_layer_ref

    parse_layer_ref(value)  # ValueError says what is allowed
    return value.strip()


WEIGHTS_HELP = ("random, or a real layer <model>.layer<i>.<attn-q|attn-k|attn-v|attn-o|"
                "mlp-gate|mlp-up|mlp-down> (model smollm2, a .gguf file or a Hugging Face "
                "folder)")


PARAMS = {
    "shape": Param((str, list), None, f"[M, K] or a layer: {', '.join(LAYER_SHAPES)} "
                   "(required unless weights is a real layer)", validate=_shape),
    "n": Param(int, 256, "activation columns (tokens), integer >= 1", at_least(1)),
    "scale": Param(int, 1, "integer >= 1 dividing a layer preset's M and K", at_least(1)),
    "dtype": Param(str, "float32", f"one of {', '.join(DTYPES)}", one_of(*DTYPES)),
    "pattern": Param((str, int, float), help=PATTERN_HELP, validate=_pattern),
    "mask": Param(str, "magnitude", f"one of {', '.join(MASK_METHODS)}",
                  one_of(*MASK_METHODS)),
    "weights": Param(str, "random", WEIGHTS_HELP, validate=_weights),
}


@dataclass
class SpmmInputs:
    """``weight``: M x K in the instance dtype with pruned entries zero; ``mask`` its
    non-zero pattern; ``x``: K x N activations (batch 0 of what the harness feeds)."""

    weight: np.ndarray
    mask: np.ndarray
    x: np.ndarray


class SpmmInstance(WorkloadInstance):
    family = "spmm"

    def __init__(self, params: dict[str, Any], seed: int):
        # ``weights: random`` and an absent shape stay out of params, so the ids of
        # random-weight instances are the ones earlier runs recorded.
        self.params = {k: v for k, v in params.items()
                       if not (k == "weights" and v == "random") and v is not None}
        self.seed = seed
        self.layer = _layer_ref(params.get("weights", "random"))
        self.m, self.k = (_layer_shape(self.layer) if self.layer is not None
                          else _resolve_shape(params["shape"], params["scale"]))
        self.n = params["n"]
        self.dtype = np.dtype(params["dtype"])
        self.pattern: Pattern = parse_pattern(params["pattern"])
        self.mask_method = params["mask"]

    @property
    def label(self) -> str:
        shape = self.params.get("shape")
        name = (self.layer.label if self.layer is not None else shape if isinstance(shape, str)
                else "square" if self.m == self.k else "rect")
        return f"{name} {self.m}x{self.k}x{self.n} {self.dtype.name} {self.pattern.label}"

    def data_artifacts(self) -> tuple[str, ...]:
        """What ``run-suite fetch`` fetches ahead of time for this instance."""
        if self.layer is None:
            return ()
        return ("smollm2", "plays") if self.layer.model == "smollm2" else ("plays",)

    def build_inputs(self) -> SpmmInputs:
        rng = np.random.default_rng(self.seed)
        if self.layer is None:
            dense = rng.standard_normal((self.m, self.k))
        else:
            from suite.data.layers import layer_weight

            dense = layer_weight(self.layer).astype(np.float64)
        mask = make_mask(dense, self.pattern, self.mask_method, rng)
        weight = np.where(mask, dense, 0.0).astype(self.dtype)
        if self.layer is None:
            x = rng.standard_normal((self.k, self.n)).astype(self.dtype)
        else:
            x = self._real_activations(1)[0]
        return SpmmInputs(weight, mask, x)

    def _real_activations(self, count: int) -> list[np.ndarray]:
        """``count`` K x N batches of the layer's captured inputs, consecutive tokens (at
        least 4 batches' worth captured, so the usual counts share one cached capture)."""
        from suite.data.layers import layer_activations

        acts = layer_activations(self.layer, self.n * max(count, 4)).astype(self.dtype)
        return [np.ascontiguousarray(acts[:, i * self.n:(i + 1) * self.n])
                for i in range(count)]

    def batches(self, inputs: SpmmInputs, count: int, scenario: str = "batch") -> list:
        """Activations: ``inputs.x`` first, then fresh K x N batches (seeded, or the real
        layer's inputs on the next tokens)."""
        if self.layer is not None:
            return [inputs.x, *self._real_activations(count)[1:]]
        rng = np.random.default_rng([self.seed, 1])
        more = [np.ascontiguousarray(rng.standard_normal((self.k, self.n)).astype(self.dtype))
                for _ in range(count - 1)]
        return [inputs.x, *more]

    def reference(self, inputs: SpmmInputs, batch: np.ndarray) -> np.ndarray:
        # The reference sees the same rounded inputs, so only the kernel's arithmetic counts.
        return inputs.weight.astype(np.float64) @ batch.astype(np.float64)

    def work(self, inputs: SpmmInputs, batch: np.ndarray) -> Work:
        item, n = self.dtype.itemsize, batch.shape[1]
        nnz = int(np.count_nonzero(inputs.weight))
        return Work(flops_dense=2.0 * self.m * self.k * n, flops_useful=2.0 * nnz * n,
                    bytes_min=float(item * (nnz + self.k * n + self.m * n)),
                    units=1.0, unit_name="op")

    def check(self, output: Any, reference: np.ndarray, inputs: SpmmInputs,
              prepared: Prepared, batch: Any = None) -> Check:
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


def _layer_ref(weights: str):
    if weights == "random":
        return None
    from suite.data.layers import parse_layer_ref

    return parse_layer_ref(weights)


def _layer_shape(ref) -> tuple[int, int]:
    from suite.data.layers import layer_shape

    return layer_shape(ref)


def _resolve_shape(shape: Any, scale: int) -> tuple[int, int]:
    if isinstance(shape, str):
        m, k = LAYER_SHAPES[shape]
        return max(1, m // scale), max(1, k // scale)
    return int(shape[0]), int(shape[1])


def build(params: dict[str, Any], seed: int) -> SpmmInstance:
    """One grid point (typed and defaulted by the harness); checks across fields here."""
    shape, scale = params["shape"], params["scale"]
    if params.get("weights", "random") != "random":
        return _build_real(params, seed)
    if shape is None:
        raise ParamError("shape", None, "[M, K] or a layer preset (required with "
                         "weights: random)")
    if isinstance(shape, str) and min(LAYER_SHAPES[shape]) < scale:
        raise ParamError("scale", scale, f"at most {min(LAYER_SHAPES[shape])} for {shape}")
    m, k = _resolve_shape(shape, scale)
    if m * k * 8 > 2**34:
        raise ParamError("shape", shape, "M*K*8 bytes <= 16 GiB (the float64 reference)")
    return SpmmInstance(dict(params), seed)


def _build_real(params: dict[str, Any], seed: int) -> SpmmInstance:
    """A real layer fixes M and K: ``shape`` and ``scale`` must be left at their defaults."""
    if params["shape"] is not None:
        raise ParamError("shape", params["shape"], f"no shape with weights "
                         f"{params['weights']!r} (the layer fixes M and K)")
    if params["scale"] != 1:
        raise ParamError("scale", params["scale"], f"1 with weights {params['weights']!r}")
    return SpmmInstance(dict(params), seed)


def plot_speedup_vs_density(frame, out_dir):
    """Lazy import: matplotlib only when reports are drawn."""
    from suite.plots import speedup_vs_density
    return speedup_vs_density(frame, out_dir, family="spmm")


register_family(FamilySpec(
    name="spmm", build=build, params=PARAMS, baseline_kernel="dense",
    accuracy=(AccuracyMetric("rel_error", higher_is_better=False, low=0.0,
                             description="relative Frobenius error vs float64"),),
    timed_scope="one W @ X product on a batch already on the device",
    description="sparse weights (M x K) x dense activations (K x N)",
    plot=plot_speedup_vs_density))
