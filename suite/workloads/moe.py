"""The MoE family: one Mixture-of-Experts feed-forward layer (routed experts + combine).

Grid parameters (see ``PARAMS``): ``model`` (a real MoE preset) or explicit ``d_model``,
``d_ff``, ``experts``, ``top_k``; ``expert`` (swiglu | gelu | relu), ``shared_experts``,
``tokens`` (2048 = prefill, 8 = decode), ``scale`` (divides d_model and d_ff),
``routing`` (uniform | zipf(S)), ``capacity_factor`` (for capacity kernels) and ``dtype``.
The routing rule is built once from the seed (``moe_routing.Router``); each batch the
harness feeds (``MoeBatch``: tokens and their routing) is routed by it when it is made, so
kernels are timed on the expert computation and combine only, the router excluded.
A kernel that drops tokens declares it (``Prepared.semantics = {"drops_tokens": True,
"capacity": C}``) and returns ``MoeOutput(y, dropped)``; the check verifies its drop set
against the capacity rule on that batch. Kernels live in ``kernels.moe``.

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
from suite.family import AccuracyMetric, Param, at_least, one_of
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


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError("a number > 0; expert capacity = ceil(cf * T * k / E)")
    return value


def _routing(value: str) -> str:
    return routing.parse_routing(value).label


def _shape_param(text: str) -> Param:
    return Param(int, None, f"{text}, integer >= 1 (overrides the preset)", at_least(1))


PARAMS = {
    "model": Param(str, None, f"a preset: {', '.join(PRESETS)} (or give d_model, d_ff, "
                              "experts, top_k)", one_of(*PRESETS)),
    "d_model": _shape_param("model dim"),
    "d_ff": _shape_param("expert hidden dim"),
    "experts": _shape_param("routed experts E"),
    "top_k": _shape_param("experts per token, <= experts"),
    "expert": Param(str, None, f"one of {', '.join(EXPERT_TYPES)} (swiglu is gated); "
                               "default: the preset's", one_of(*EXPERT_TYPES)),
    "shared_experts": Param(int, 0, "always-on experts (DeepSeek style), integer >= 0",
                            at_least(0)),
    "tokens": Param(int, 512, "tokens T in a batch, integer >= 1 (2048 prefill, 8 decode)",
                    at_least(1)),
    "scale": Param(int, 1, "integer >= 1 dividing d_model and d_ff (CPU quick suite)",
                   at_least(1)),
    "routing": Param(str, "uniform", routing.ROUTING_HELP, _routing),
    "capacity_factor": Param(float, 1.25, "number > 0; expert capacity = ceil(cf * T * k / E)",
                             _positive),
    "dtype": Param(str, "float32", f"one of {', '.join(DTYPES)}", one_of(*DTYPES)),
}


@dataclass(frozen=True)
class MoeBatch:
    """What one call computes: ``x`` (T x d tokens, instance dtype) and their routing,
    ``expert_idx`` (T x k int32, slot 0 = first choice) and ``expert_weight`` (T x k,
    instance dtype) over the routed experts. Shared experts are not listed (every token)."""

    x: np.ndarray
    expert_idx: np.ndarray
    expert_weight: np.ndarray


@dataclass(frozen=True)
class MoeOutput:
    """What a token-dropping kernel returns: ``y`` (T x d) and ``dropped`` (T x k bool:
    which (token, slot) assignments of the batch it dropped)."""

    y: Any
    dropped: Any


@dataclass
class MoeInputs:
    """``w_in``: (E+S) x d x h_in (gate|up fused for swiglu); ``w_down``: (E+S) x d_ff x d;
    ``batch``: batch 0 (tokens and their routing); ``router``: the routing rule every batch
    is routed by (None for hand-made inputs). Shared experts are ids E..E+S-1, weight 1."""

    w_in: np.ndarray
    w_down: np.ndarray
    batch: MoeBatch
    experts: int
    shared_experts: int
    router: routing.Router | None = None


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
        """Batch 0, the routing rule and the expert weights, all from ``seed``."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.tokens, self.d_model), dtype=np.float32)
        router = routing.make_router(self.routing, self.d_model, self.experts, self.top_k, rng)
        n = self.experts + self.shared_experts
        batch = self._routed(router, x)
        w_in = _normal(rng, (n, self.d_model, self.h_in), self.d_model, self.dtype)
        w_down = _normal(rng, (n, self.d_ff, self.d_model), self.d_ff, self.dtype)
        return MoeInputs(w_in, w_down, batch, self.experts, self.shared_experts, router)

    def batches(self, inputs: MoeInputs, count: int, scenario: str = "batch") -> list[MoeBatch]:
        """``inputs.batch`` first, then fresh seeded batches of T tokens routed by the same
        rule (``inputs.router``). MoE has only the ``batch`` scenario."""
        if count > 1 and inputs.router is None:
            raise ValueError("these inputs have no router: only batch 0 exists")
        rng = np.random.default_rng([self.seed, 1])
        more = [self._routed(inputs.router, rng.standard_normal(
            (self.tokens, self.d_model), dtype=np.float32)) for _ in range(count - 1)]
        return [inputs.batch, *more]

    def _routed(self, router: routing.Router, x: np.ndarray) -> MoeBatch:
        """Route float32 tokens, then round tokens and weights to the instance dtype."""
        idx, weight = router.route(x)
        return MoeBatch(x.astype(self.dtype), idx, weight.astype(self.dtype))

    def reference(self, inputs: MoeInputs, batch: MoeBatch) -> np.ndarray:
        """Exact routing of ``batch`` in float64 on the same rounded inputs."""
        return combine_float64(inputs, batch, self.activation)

    def work(self, inputs: MoeInputs, batch: MoeBatch) -> Work:
        """MoE-CAP FLOPs and bytes of the experts ``batch`` activates (module docstring)."""
        per_pair = 2.0 * self.d_model * self.d_ff * (3 if self.gated else 2)
        tokens = batch.x.shape[0]
        active = np.unique(batch.expert_idx).size + (self.shared_experts if tokens else 0)
        params_per_expert = self.d_model * self.h_in + self.d_ff * self.d_model
        item = self.dtype.itemsize
        return Work(
            flops_dense=per_pair * tokens * (self.experts + self.shared_experts),
            flops_useful=per_pair * tokens * (self.top_k + self.shared_experts),
            bytes_min=float(item * (active * params_per_expert + 2 * tokens * self.d_model)),
            units=float(tokens), unit_name="token")

    def check(self, output: Any, reference: np.ndarray, inputs: MoeInputs,
              prepared: Prepared, batch: MoeBatch | None = None) -> Check:
        """The verdict on ``batch`` (default batch 0) for the semantics ``prepared`` declares."""
        return check_output(self, output, reference, inputs,
                            inputs.batch if batch is None else batch, prepared.semantics)


def combine_float64(inputs: MoeInputs, batch: MoeBatch, activation: str,
                    keep: np.ndarray | None = None) -> np.ndarray:
    """sum over kept (token, expert) pairs of weight * FFN_e(x_t), all in float64."""
    x = batch.x.astype(np.float64)
    y = np.zeros_like(x)
    kept = np.ones(batch.expert_idx.shape, bool) if keep is None else keep
    for e in range(inputs.experts):
        tok, slot = np.nonzero((batch.expert_idx == e) & kept)
        w = batch.expert_weight[tok, slot].astype(np.float64)[:, None]
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
                 batch: MoeBatch, semantics: dict[str, Any]) -> Check:
    """Valid when the output matches the float64 computation of the kernel's declared
    semantics on ``batch``: exact routing, or with ``drops_tokens`` the capacity rule's drop
    set (which the kernel's reported ``MoeOutput.dropped`` must equal). Accuracy is always
    reported against exact routing."""
    y, dropped = (output.y, output.dropped) if isinstance(output, MoeOutput) else (output, None)
    out64, failed = as_checked_float64(y, reference)
    if failed is not None:
        return failed
    checks: dict[str, Any] = {}
    target, rate, reason = reference, 0.0, ""
    if semantics.get("drops_tokens"):
        expected = routing.dropped_pairs(batch.expert_idx, inst.capacity)
        reason = _drop_rule(inst, semantics, dropped, expected, checks)
        target = combine_float64(inputs, batch, inst.activation, keep=~expected)
        rate = float(expected.mean())
    elif dropped is not None and np.any(dropped):
        reason = "the output reports dropped pairs, but the kernel does not declare drops_tokens"
    sem_error = rel_error(out64, target)
    tol = TOLERANCE[inst.dtype.name]
    checks["rel_error_vs_semantics"] = {"value": sem_error, "max": tol}
    if sem_error > tol:
        reason = reason or f"rel_error_vs_semantics {sem_error:.3g} > tolerance {tol:g}"
    accuracy = {"rel_error": rel_error(out64, reference), "rel_error_vs_semantics": sem_error,
                "dropped_token_rate": rate,
                "load_imbalance": routing.load_imbalance(batch.expert_idx, inst.experts)}
    return Check(reason == "", accuracy, checks, reason)


def _drop_rule(inst: MoeInstance, semantics: dict[str, Any], dropped: Any,
               expected: np.ndarray, checks: dict[str, Any]) -> str:
    """Why a dropping kernel's reported drop set breaks the capacity rule ("" if it holds)."""
    declared = semantics.get("capacity", inst.capacity)
    reported = None if dropped is None else np.asarray(dropped)
    rule_ok = (reported is not None and reported.shape == expected.shape
               and bool(np.array_equal(reported, expected)))
    checks["drop_rule"] = {"value": rule_ok, "capacity": inst.capacity,
                           "expected_dropped": int(expected.sum())}
    if declared != inst.capacity:
        return f"declares capacity {declared}, the instance's capacity is {inst.capacity}"
    if reported is None:
        return "declares drops_tokens but its output has no drop set (return MoeOutput)"
    return "" if rule_ok else "dropped pairs do not follow the capacity rule"


def _normal(rng, shape, fan_in: int, dtype: np.dtype) -> np.ndarray:
    """N(0, 1/fan_in) weights, drawn in float32 so full-size presets fit in memory."""
    w = rng.standard_normal(shape, dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(fan_in))
    return w.astype(dtype, copy=False)


def build(params: dict[str, Any], seed: int) -> MoeInstance:
    """One grid point (typed and defaulted by the harness); checks across fields here.

    Unset optional fields (None: no preset override) are left out of the instance's
    params, so its id names only what the grid and the defaults give."""
    full = {k: v for k, v in params.items() if v is not None}
    shape = {**PRESETS.get(full.get("model", ""), {"expert": "swiglu"}), **full}
    for name in SHAPE_KEYS:
        if name not in shape:
            raise ParamError(name, None, PARAMS[name].help + " (required without a model)")
    if shape["top_k"] > shape["experts"]:
        raise ParamError("top_k", shape["top_k"], f"1..{shape['experts']} (the experts)")
    if full["scale"] > min(shape["d_model"], shape["d_ff"]):
        raise ParamError("scale", full["scale"], f"at most {min(shape['d_model'], shape['d_ff'])}")
    inst = MoeInstance(full, seed)
    n = inst.experts + inst.shared_experts
    if n * (inst.d_model * inst.h_in + inst.d_ff * inst.d_model) * 4 > MAX_WEIGHT_BYTES:
        raise ParamError("scale", full["scale"], "a scale whose expert weights fit in 16 GiB")
    return inst


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
    accuracy=(AccuracyMetric("rel_error", higher_is_better=False, low=0.0,
                             description="relative Frobenius error vs exact routing (float64)"),
              AccuracyMetric("dropped_token_rate", False, 0.0, 1.0,
                             description="dropped (token, expert) assignments / T*k")),
    rank_baseline_kernel="loop",
    timed_scope="routed-expert FFNs + combine on pre-routed tokens; the router "
                "(gate GEMM + top-k) is excluded",
    description="MoE feed-forward layer: top-k routed experts + combine (MoE-CAP metrics)",
    plot=plot_throughput))
