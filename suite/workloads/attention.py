"""The attention family: causal softmax attention, prefill and decode, dense and sparse.

For a context length L, a phase and an accuracy budget: which training-free sparse
attention method is fastest, and by how much over the best dense attention of the device?

Grid parameters (``PARAMS``): ``phase`` (prefill: L queries over L keys; decode:
``queries`` new tokens over a KV cache of L), ``length``, ``source`` (``smollm2``
captures or the ``synthetic`` generator), ``layers`` (the batches rotate among them:
each batch is one layer's Q, K, V), ``heads``, ``kv_heads`` (grouped-query attention),
``head_dim``, ``batch``, ``sample_rows`` and the query-time knob ``budget``: keys kept per
query (an integer) or a target density of the causal pattern (a float in (0, 1]). Every
method translates the budget into its own (window, blocks, pages, k, target count) and a
sweep over it shares one build and one timing of the dense baseline.

Work of one call (E = causal (query, key) entries over batch and heads, rho = the
budget's nominal density)::

    flops_dense  = 4 d E                  (Q K^T and P V)
    flops_useful = rho * flops_dense
    bytes_min    = 4 (|Q| + |O| + rho (|K| + |V|))     (float32; dense: rho = 1)

Accuracy (``attention_metrics``): attention-mass ``recall`` (primary), ``rel_error`` vs
float64 dense, achieved ``density``, and on SmolLM2 ``layer_error`` after W_o. Kernels
live in ``kernels.attention``; their output is an ``AttentionOutput`` (``attention_batch``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suite.errors import ParamError
from suite.family import AccuracyMetric, Param, at_least, one_of
from suite.registry import FamilySpec, register_family
from suite.workload import Check, Prepared, Work, WorkloadInstance
from suite.workloads import attention_metrics as metrics
from suite.workloads.attention_batch import AttentionBatch, AttentionOutput
from suite.workloads.attention_source import SOURCES, check_source, load_inputs
from suite.workloads.attention_synthetic import Shape

PHASES = ("prefill", "decode")


def _layers(value: Any) -> list[int]:
    if not (isinstance(value, list) and value and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise ValueError("a non-empty list of layer indices >= 0, e.g. [3, 14, 25]")
    return value


def _budget(value: Any) -> int | float:
    if isinstance(value, float) and not 0.0 < value <= 1.0:
        raise ValueError("keys per query (integer >= 1) or a density in (0, 1]")
    if isinstance(value, int) and value < 1:
        raise ValueError("keys per query (integer >= 1) or a density in (0, 1]")
    return value


def _head_dim(value: int) -> int:
    if value % 16 or not 16 <= value <= 256:
        raise ValueError("a multiple of 16 in 16..256")
    return value


PARAMS = {
    "phase": Param(str, "prefill", "prefill (L causal queries) or decode (queries over a "
                                   "KV cache of L)", one_of(*PHASES)),
    "length": Param(int, 2048, "L: prompt or KV-cache length, integer >= 1", at_least(1)),
    "queries": Param(int, 1, "decode: new tokens per call (1 in prefill)", at_least(1)),
    "source": Param(str, "synthetic", f"one of {', '.join(SOURCES)}", one_of(*SOURCES)),
    "layers": Param(list, [3, 14, 25], "layers whose Q/K/V the batches rotate among",
                    _layers),
    "heads": Param(int, 9, "query heads H, a multiple of kv_heads", at_least(1)),
    "kv_heads": Param(int, 3, "KV heads (grouped-query attention)", at_least(1)),
    "head_dim": Param(int, 64, "d: a multiple of 16 in 16..256", _head_dim),
    "batch": Param(int, 1, "sequences per call, integer >= 1", at_least(1)),
    "sample_rows": Param(int, 256, "query positions accuracy is measured on (all heads)",
                         at_least(1)),
    "budget": Param((int, float), 0.125, "keys kept per query (integer >= 1) or a target "
                                         "density in (0, 1]", _budget, query=True),
}


def keys_per_query(budget: int | float, phase: str, length: int) -> int:
    """The budget as keys per query; a density rho maps to k with causal density ~ rho."""
    if isinstance(budget, int):
        return budget
    if phase == "prefill":  # sum_i min(k, i + 1) / sum_i (i + 1) = 2 k/L - (k/L)^2
        return max(1, round(length * (1.0 - np.sqrt(1.0 - budget))))
    return max(1, round(budget * length))


class AttentionInstance(WorkloadInstance):
    family = "attention"

    def __init__(self, params: dict[str, Any], seed: int):
        self.params, self.seed = params, seed
        self.shape = Shape(params["batch"], params["heads"], params["kv_heads"],
                           params["head_dim"], params["length"])
        self.phase, self.length = params["phase"], params["length"]
        self.keys_per_query = keys_per_query(params["budget"], self.phase, self.length)

    @property
    def label(self) -> str:
        p = self.params
        return (f"{p['phase']} L={p['length']} {p['source']} budget={p['budget']} "
                f"(k={self.keys_per_query})")

    @property
    def query_positions(self) -> np.ndarray:
        n_q = self.length if self.phase == "prefill" else self.params["queries"]
        return np.arange(self.length - n_q, self.length, dtype=np.int64)

    def build_inputs(self):
        return load_inputs(self.params["source"], self.shape, self.params["layers"],
                           self.seed)

    def batches(self, inputs, count: int, scenario: str = "batch") -> list[AttentionBatch]:
        layers = self.params["layers"]
        return [self.make_batch(inputs, layers[i % len(layers)], i) for i in range(count)]

    def make_batch(self, inputs, layer: int, index: int = 0) -> AttentionBatch:
        q, k, v = inputs.layers[layer]
        pos = self.query_positions
        q = np.ascontiguousarray(q[:, :, pos[0]:])
        return AttentionBatch(q, k, v, pos, self._sample(len(pos), index), layer)

    def _sample(self, n_q: int, index: int) -> np.ndarray:
        """Stratified query rows: one seeded row per equal slice, the last row always."""
        n_s = min(self.params["sample_rows"], n_q)
        rng = np.random.default_rng([self.seed, index, 5])
        edges = np.linspace(0, n_q, n_s + 1).astype(np.int64)
        rows = [int(rng.integers(lo, max(hi, lo + 1))) for lo, hi in zip(edges[:-1], edges[1:],
                                                                          strict=True)]
        rows[-1] = n_q - 1
        return np.unique(np.asarray(rows, dtype=np.int64))

    def reference(self, inputs, batch: AttentionBatch):
        return metrics.make_reference(batch, _w_o(inputs, batch))

    def nominal_density(self, batch: AttentionBatch) -> float:
        n = batch.q_pos.astype(np.int64) + 1
        return float(np.minimum(n, self.keys_per_query).sum() / n.sum())

    def work(self, inputs, batch: AttentionBatch) -> Work:
        entries = batch.causal_total
        rho = self.nominal_density(batch)
        q_o = 2 * batch.q.size * 4
        kv = (batch.k.size + batch.v.size) * 4
        return Work(flops_dense=4.0 * batch.q.shape[-1] * entries,
                    flops_useful=4.0 * batch.q.shape[-1] * entries * rho,
                    bytes_min=float(q_o + rho * kv), units=float(batch.q.shape[0] *
                                                                  batch.q.shape[2]),
                    unit_name="token")

    def check(self, output: Any, reference, inputs, prepared: Prepared,
              batch: AttentionBatch | None = None) -> Check:
        return check_output(output, reference, batch, _w_o(inputs, batch), prepared)


def _w_o(inputs, batch: AttentionBatch) -> np.ndarray | None:
    return None if inputs.w_o is None else inputs.w_o[batch.layer]


def check_output(output: Any, reference, batch: AttentionBatch, w_o, prepared) -> Check:
    """Validity (finite, in shape, the kept set legal and within the kernel's declared
    cap, the output equal to exact attention over its own kept set) and the metrics."""
    if isinstance(output, metrics.AttentionReference):  # the null system
        return Check(True, {"recall": 1.0, "rel_error": 0.0, "density": 1.0})
    if not isinstance(output, AttentionOutput):
        output = AttentionOutput(output, None)
    out = np.asarray(output.out)
    if out.shape != batch.q.shape:
        return Check(False, {}, {"shape": [list(out.shape), list(batch.q.shape)]},
                     f"output shape {out.shape} != {batch.q.shape}")
    if not np.all(np.isfinite(out)):
        return Check(False, {}, {"finite": False}, "output has NaN or Inf")
    cap = (getattr(prepared, "semantics", None) or {}).get("max_keys_per_row")
    result = metrics.evaluate(out, output.kept, batch, reference, w_o, cap)
    if result.reason:
        return Check(False, {}, {"kept": result.reason}, result.reason)
    valid = result.self_error <= metrics.TOLERANCE
    checks = {"self_error": {"value": result.self_error, "max": metrics.TOLERANCE}}
    why = "" if valid else (f"output differs from exact attention over its own kept set: "
                            f"{result.self_error:.3g} > {metrics.TOLERANCE:g}")
    return Check(valid, result.accuracy, checks, why)


def build(params: dict[str, Any], seed: int) -> AttentionInstance:
    """One grid point (typed and defaulted by the harness); checks across fields here."""
    if params["heads"] % params["kv_heads"]:
        raise ParamError("heads", params["heads"],
                         f"a multiple of kv_heads ({params['kv_heads']})")
    if params["phase"] == "prefill" and params["queries"] != 1:
        raise ParamError("queries", params["queries"], "1 in prefill (every position "
                                                       "queries)")
    if params["queries"] > params["length"]:
        raise ParamError("queries", params["queries"], f"at most length ({params['length']})")
    shape = Shape(params["batch"], params["heads"], params["kv_heads"], params["head_dim"],
                  params["length"])
    check_source(params["source"], shape, params["layers"])
    return AttentionInstance(dict(params), seed)


def plot(frame, out_dir):
    from suite.workloads.attention_plots import plot_attention
    return plot_attention(frame, out_dir)


register_family(FamilySpec(
    name="attention", build=build, params=PARAMS, baseline_kernel="dense",
    accuracy=(AccuracyMetric("recall", higher_is_better=True, low=0.0, high=1.0,
                             description="attention-mass recall on the kept keys"),
              AccuracyMetric("rel_error", higher_is_better=False, low=0.0,
                             description="relative output error vs float64 dense"),
              AccuracyMetric("density", higher_is_better=False, low=0.0, high=1.0,
                             description="kept / causal (query, key) entries"),
              AccuracyMetric("layer_error", higher_is_better=False, low=0.0,
                             description="relative error of the layer output (W_o)")),
    timed_scope="one attention call (selection included) on Q, K, V already in memory; "
                "decode: KV-side metadata is kept with the cache, built untimed",
    description="causal softmax attention, prefill and decode, dense and sparse methods",
    plot=plot))
