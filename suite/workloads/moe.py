"""The MoE family: one Mixture-of-Experts feed-forward layer (routed experts + combine).

Grid parameters (see ``PARAMS``): ``model`` (a real MoE preset) or explicit ``d_model``,
``d_ff``, ``experts``, ``top_k``; ``expert`` (swiglu | gelu | relu), ``shared_experts``,
``tokens`` (2048 = prefill, 8 = decode), ``scale`` (divides d_model and d_ff),
``routing`` (uniform | zipf(S)), ``capacity_factor`` (for capacity kernels) and ``dtype``.
Routing is built once from the seed (``moe_routing``); kernels live in ``kernels.moe`` and
are timed on the expert computation and combine only.

Performance metrics follow MoE-CAP. With P = params of one expert = d*h_in + d_ff*d
(h_in = 2*d_ff for gated experts, d_ff otherwise), and A = experts that get >= 1 token::

    flops_activated = T * (k + shared) * 2 * d_model * d_ff * (3 if gated else 2)
    bytes_activated = itemsize * (A * P + T * d_model [tokens in] + T * d_model [out])
    S-MFU = flops_activated / time_s / peak_flops_per_s     (suite.metrics.s_mfu)
    S-MBU = bytes_activated / time_s / peak_bytes_per_s     (suite.metrics.s_mbu)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from suite.checks import as_checked_float64, rel_error
from suite.errors import ParamError
from suite.registry import FamilySpec, register_family
from suite.workload import Check, Prepared, Work, WorkloadInstance
from suite.workloads import moe_routing as routing

# Shapes of real MoE layers: d_model, d_ff (per expert), routed experts, top-k, expert type.
PRESETS: dict[str, dict[str, Any]] = {
    "mixtral-8x7b": dict(d_model=4096, d_ff=14336, experts=8, top_k=2, expert="swiglu"),
    "deepseek-moe-16b": dict(d_model=2048, d_ff=1408, experts=64, top_k=6, expert="swiglu"),
    "deepseek-v2-lite": dict(d_model=2048, d_ff=1408, experts=64, top_k=6, expert="swiglu"),
    "qwen1.5-moe-a2.7b": dict(d_model=2048, d_ff=1408, experts=60, top_k=4, expert="swiglu"),
    "switch-base-128": dict(d_model=768, d_ff=3072, experts=128, top_k=1, expert="relu"),
}
SHAPE_KEYS = ("d_model", "d_ff", "experts", "top_k")
EXPERT_TYPES = ("swiglu", "gelu", "relu")
DTYPES = ("float32", "float16")
# Relative Frobenius error allowed vs the float64 computation of the same semantics.
TOLERANCE = {"float32": 1e-5, "float16": 1e-2}
MAX_WEIGHT_BYTES = 2**34

PARAMS = {
    "model": f"a preset: {', '.join(PRESETS)} (or give d_model, d_ff, experts, top_k)",
    "d_model": "model dim, integer >= 1 (overrides the preset)",
    "d_ff": "expert hidden dim, integer >= 1 (overrides the preset)",
    "experts": "routed experts E, integer >= 1 (overrides the preset)",
    "top_k": "experts per token, 1 <= top_k <= experts (overrides the preset)",
    "expert": f"one of {', '.join(EXPERT_TYPES)} (swiglu is gated); default: the preset's",
    "shared_experts": "always-on experts (DeepSeek style), integer >= 0; default 0",
    "tokens": "tokens T in the batch, integer >= 1 (2048 prefill, 8 decode); default 512",
    "scale": "integer >= 1 dividing d_model and d_ff (CPU quick suite); default 1",
    "routing": routing.ROUTING_HELP + "; default uniform",
    "capacity_factor": "number > 0; expert capacity = ceil(cf * T * k / E); default 1.25",
    "dtype": f"one of {', '.join(DTYPES)}; default float32",
}
DEFAULTS = {"shared_experts": 0, "tokens": 512, "scale": 1, "routing": "uniform",
            "capacity_factor": 1.25, "dtype": "float32"}


@dataclass
class MoeInputs:
    """``x``: T x d tokens; ``w_in``: (E+S) x d x h_in (gate|up fused for swiglu);
    ``w_down``: (E+S) x d_ff x d; ``expert_idx``/``expert_weight``: T x k routing of the
    routed experts (slot 0 = first choice). Shared experts are ids E..E+S-1, weight 1."""

    x: np.ndarray
    w_in: np.ndarray
    w_down: np.ndarray
    expert_idx: np.ndarray
    expert_weight: np.ndarray
    experts: int
    shared_experts: int


@dataclass
class MoePrepared(Prepared):
    """A ``Prepared`` that also says which (token, slot) pairs its last run dropped
    (T x k bool), for kernels that drop; None means the kernel computes exact routing."""

    dropped: np.ndarray | None = None


class MoeInstance(WorkloadInstance):
    family = "moe"

    def __init__(self, params: dict[str, Any], seed: int):
        self.params = params
        self.seed = seed
        shape = {**PRESETS.get(params.get("model", ""), {}), **params}
        self.d_model = max(1, shape["d_model"] // params["scale"])
        self.d_ff = max(1, shape["d_ff"] // params["scale"])
        self.experts, self.top_k = shape["experts"], shape["top_k"]
        self.activation = shape.get("expert", "swiglu")
        self.gated = self.activation == "swiglu"
        self.shared_experts, self.tokens = params["shared_experts"], params["tokens"]
        self.routing = routing.parse_routing(params["routing"])
        self.capacity = routing.capacity(params["capacity_factor"], self.tokens, self.top_k,
                                 self.experts)
        self.dtype = np.dtype(params["dtype"])

    @property
    def label(self) -> str:
        shared = f"+{self.shared_experts}" if self.shared_experts else ""
        return (f"{self.params.get('model', 'custom')} d{self.d_model} ff{self.d_ff} "
                f"E{self.experts}{shared} k{self.top_k} T{self.tokens} "
                f"{self.routing.label} {self.dtype.name}")

    @property
    def h_in(self) -> int:
        return 2 * self.d_ff if self.gated else self.d_ff

    def build_inputs(self) -> MoeInputs:
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.tokens, self.d_model), dtype=np.float32)
        idx, weight = routing.route(x, self.routing, self.experts, self.top_k, rng)
        n = self.experts + self.shared_experts
        w_in = _normal(rng, (n, self.d_model, self.h_in), self.d_model, self.dtype)
        w_down = _normal(rng, (n, self.d_ff, self.d_model), self.d_ff, self.dtype)
        return MoeInputs(x.astype(self.dtype), w_in, w_down, idx,
                         weight.astype(self.dtype), self.experts, self.shared_experts)

    def reference(self, inputs: MoeInputs) -> np.ndarray:
        """Exact routing in float64 on the same rounded inputs."""
        return combine_float64(inputs, self.activation)

    def work(self, inputs: MoeInputs) -> Work:
        per_pair = 2.0 * self.d_model * self.d_ff * (3 if self.gated else 2)
        active = np.unique(inputs.expert_idx).size + (self.shared_experts if self.tokens else 0)
        params_per_expert = self.d_model * self.h_in + self.d_ff * self.d_model
        item = self.dtype.itemsize
        return Work(
            flops_dense=per_pair * self.tokens * (self.experts + self.shared_experts),
            flops_useful=per_pair * self.tokens * (self.top_k + self.shared_experts),
            bytes_min=float(item * (active * params_per_expert
                                    + 2 * self.tokens * self.d_model)),
            units=float(self.tokens), unit_name="token")

    def check(self, output: Any, reference: np.ndarray, inputs: MoeInputs,
              prepared: Prepared) -> Check:
        return check_output(self, output, reference, inputs, getattr(prepared, "dropped", None))


def combine_float64(inputs: MoeInputs, activation: str,
                    keep: np.ndarray | None = None) -> np.ndarray:
    """sum over kept (token, expert) pairs of weight * FFN_e(x_t), all in float64."""
    x = inputs.x.astype(np.float64)
    y = np.zeros_like(x)
    kept = np.ones(inputs.expert_idx.shape, bool) if keep is None else keep
    for e in range(inputs.experts):
        tok, slot = np.nonzero((inputs.expert_idx == e) & kept)
        w = inputs.expert_weight[tok, slot].astype(np.float64)[:, None]
        y[tok] += w * expert_ffn64(x[tok], inputs, e, activation)
    for e in range(inputs.experts, inputs.experts + inputs.shared_experts):
        y += expert_ffn64(x, inputs, e, activation)
    return y


def expert_ffn64(x: np.ndarray, inputs: MoeInputs, e: int, activation: str) -> np.ndarray:
    h = x @ inputs.w_in[e].astype(np.float64)
    return activate64(h, activation) @ inputs.w_down[e].astype(np.float64)


def activate64(h: np.ndarray, activation: str) -> np.ndarray:
    """swiglu: silu(gate) * up on the fused [gate | up]; gelu (tanh form); relu."""
    if activation == "swiglu":
        gate, up = np.split(h, 2, axis=1)
        return gate / (1.0 + np.exp(-gate)) * up
    if activation == "gelu":
        return 0.5 * h * (1.0 + np.tanh(0.7978845608028654 * (h + 0.044715 * h**3)))
    return np.maximum(h, 0.0)


def check_output(inst: MoeInstance, output: Any, reference: np.ndarray, inputs: MoeInputs,
                 dropped: np.ndarray | None) -> Check:
    """Valid when the output matches the float64 computation of the kernel's semantics:
    exact routing, or for dropping kernels the capacity rule's drop set (which the kernel's
    reported set must equal). Accuracy is always reported against exact routing."""
    out64, failed = as_checked_float64(output, reference)
    if failed is not None:
        return failed
    checks: dict[str, Any] = {}
    semantics, rate, reason = reference, 0.0, ""
    if dropped is not None:
        expected = routing.dropped_pairs(inputs.expert_idx, inst.capacity)
        rule_ok = dropped.shape == expected.shape and bool(np.array_equal(dropped, expected))
        checks["drop_rule"] = {"value": rule_ok, "capacity": inst.capacity,
                               "expected_dropped": int(expected.sum())}
        reason = "" if rule_ok else "dropped pairs do not follow the capacity rule"
        semantics = combine_float64(inputs, inst.activation, keep=~expected)
        rate = float(expected.mean())
    sem_error = rel_error(out64, semantics)
    tol = TOLERANCE[inst.dtype.name]
    checks["rel_error_vs_semantics"] = {"value": sem_error, "max": tol}
    if sem_error > tol:
        reason = reason or f"rel_error_vs_semantics {sem_error:.3g} > tolerance {tol:g}"
    accuracy = {"rel_error": rel_error(out64, reference), "rel_error_vs_semantics": sem_error,
                "dropped_token_rate": rate,
                "load_imbalance": routing.load_imbalance(inputs.expert_idx, inst.experts)}
    return Check(reason == "", accuracy, checks, reason)


def _normal(rng, shape, fan_in: int, dtype: np.dtype) -> np.ndarray:
    """N(0, 1/fan_in) weights, drawn in float32 so full-size presets fit in memory."""
    w = rng.standard_normal(shape, dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(fan_in))
    return w.astype(dtype, copy=False)


def build(params: dict[str, Any], seed: int) -> MoeInstance:
    """Validate one grid point and make the instance."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ParamError(unknown[0], params[unknown[0]], f"parameters {', '.join(PARAMS)}")
    full = {**DEFAULTS, **params}
    if "model" in full and full["model"] not in PRESETS:
        raise ParamError("model", full["model"], PARAMS["model"])
    shape = {**PRESETS.get(full.get("model", ""), {"expert": "swiglu"}), **full}
    for name in (*SHAPE_KEYS, "tokens", "scale"):
        if name not in shape:
            raise ParamError(name, None, PARAMS[name] + " (required without a model)")
        _require_int(name, shape[name], 1)
    _require_int("shared_experts", full["shared_experts"], 0)
    if shape["top_k"] > shape["experts"]:
        raise ParamError("top_k", shape["top_k"], f"1..{shape['experts']} (the experts)")
    if full["scale"] > min(shape["d_model"], shape["d_ff"]):
        raise ParamError("scale", full["scale"], f"at most {min(shape['d_model'], shape['d_ff'])}")
    _validate_choices(full, shape["expert"])
    inst = MoeInstance(full, seed)
    n = inst.experts + inst.shared_experts
    if n * (inst.d_model * inst.h_in + inst.d_ff * inst.d_model) * 4 > MAX_WEIGHT_BYTES:
        raise ParamError("scale", full["scale"], "a scale whose expert weights fit in 16 GiB")
    return inst


def _validate_choices(full: dict[str, Any], expert: Any) -> None:
    if expert not in EXPERT_TYPES:
        raise ParamError("expert", expert, PARAMS["expert"])
    routing.parse_routing(full["routing"])
    cf = full["capacity_factor"]
    if isinstance(cf, bool) or not isinstance(cf, (int, float)) or not cf > 0:
        raise ParamError("capacity_factor", cf, PARAMS["capacity_factor"])
    if full["dtype"] not in DTYPES:
        raise ParamError("dtype", full["dtype"], PARAMS["dtype"])


def _require_int(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ParamError(name, value, PARAMS[name])


def plot_throughput(frame, out_dir) -> list:
    """One PNG: tokens/s of each kernel on each instance (grouped bars, log scale)."""
    import textwrap
    from pathlib import Path

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = frame[(frame["family"] == "moe") & (frame["status"] == "ok")
                 & (frame["kernel"] != "null")]  # null measures the harness, not a layer
    if rows.empty:
        return []
    table = rows.pivot_table(index="instance_label", columns="system",
                             values="throughput_units_per_s", aggfunc="median")
    table.index = [textwrap.fill(label, 26) for label in table.index]
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(table)), 5))
    table.plot.bar(ax=ax, logy=True, rot=0)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("instance")
    ax.set_ylabel("throughput (tokens/s, log scale)")
    ax.set_title("MoE layer: tokens/s per kernel (higher is better)")
    ax.legend(title="device/kernel", fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / "moe_throughput.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


register_family(FamilySpec(
    name="moe", build=build, params=PARAMS, baseline_kernel="dense",
    accuracy_metric="rel_error",
    description="MoE feed-forward layer: top-k routed experts + combine (MoE-CAP metrics)",
    plot=plot_throughput))
