"""The pruned-LLM family: how much quality a pruning method loses, and what speed it buys.

One instance is one pruned model (``model``, ``method``, ``pattern``; uniform per layer)
in one ``phase``: ``decode(B,C)`` (one new token for each of ``B`` sequences with ``C``
tokens in their KV cache) or ``prefill(T)`` (one ``T``-token prompt, its last token's
logits). Systems are backends (``kernels.pruning.backends``: the model's linear layers
through an SpMM kernel of the registry; ``simulators.llm_harness``: the same layers with
their real masks on a ``sim:`` array); ``dense`` on the zero-filled weights is the
baseline, and the reference each backend's logits are checked against
(``reference="baseline"``). The pruned model is an untimed shared build made once per
(model, method, pattern) and cached on disk (``pruned_llm_model``); every row carries its
quality (``pruned_llm_quality``: perplexity, its ratio to dense, cloze accuracy).
Grid parameters: see ``PARAMS`` and docs/pruned-llm.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.pruning.sequential import METHODS
from suite.checks import as_checked_float64, rel_error
from suite.errors import ParamError
from suite.family import AccuracyMetric, Param, at_least, one_of
from suite.registry import FamilySpec, register_family
from suite.workload import Check, Prepared, Work, WorkloadInstance
from suite.workloads.pruned_llm_model import PruneSpec
from suite.workloads.spmm_patterns import parse_pattern

ALL_METHODS = ("dense", *METHODS)
TOLERANCE = 1e-4   # relative Frobenius error of the logits vs dense (seen: ~2e-6 on SmolLM2)
MAX_CONTEXT = 4096
PATTERN_HELP = "dense, unstructured(DENSITY) with DENSITY in (0, 1), or N:M (1 <= N < M <= 256)"
PHASE_HELP = ("decode(BATCH,CONTEXT): one new token for BATCH sequences with CONTEXT cached "
              f"tokens, or prefill(TOKENS): one prompt; 1 <= CONTEXT, TOKENS <= {MAX_CONTEXT}")
_PHASE = re.compile(r"^\s*(decode|prefill)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$")


@dataclass(frozen=True)
class Phase:
    """``decode``: ``batch`` sequences, ``context`` cached tokens; ``prefill``: ``context``."""

    kind: str
    batch: int
    context: int

    @property
    def label(self) -> str:
        if self.kind == "decode":
            return f"decode({self.batch},{self.context})"
        return f"prefill({self.context})"

    @property
    def tokens(self) -> int:
        """Tokens one call pushes through every linear layer (its units of work)."""
        return self.batch if self.kind == "decode" else self.context


def parse_phase(text: str) -> Phase:
    found = _PHASE.match(text) if isinstance(text, str) else None
    if not found:
        raise ValueError(PHASE_HELP)
    kind, first, second = found.group(1), int(found.group(2)), found.group(3)
    if (kind == "decode") != (second is not None):
        raise ValueError(PHASE_HELP)
    phase = Phase(kind, first, int(second)) if second else Phase(kind, 1, first)
    if not (1 <= phase.context <= MAX_CONTEXT and 1 <= phase.batch <= 256):
        raise ValueError(PHASE_HELP)
    return phase


def _pattern(value: Any) -> str:
    pattern = parse_pattern(value)
    if pattern.kind == "block" or (pattern.kind == "unstructured" and pattern.density >= 1):
        raise ValueError(PATTERN_HELP)
    if pattern.kind == "nm" and pattern.n >= pattern.m:
        raise ValueError(PATTERN_HELP)
    return pattern.label


def _model(value: str) -> str:
    from suite.data.models import llama_config
    from suite.errors import UserError

    try:
        llama_config(value)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    return value


PARAMS = {
    "model": Param(str, "smollm2", "smollm2, a .gguf file or a Hugging Face Llama folder",
                   validate=_model),
    "method": Param(str, help=f"one of {', '.join(ALL_METHODS)}", validate=one_of(*ALL_METHODS)),
    "pattern": Param(str, help=PATTERN_HELP, validate=_pattern),
    "phase": Param(str, "decode(1,256)", PHASE_HELP, validate=lambda v: parse_phase(v).label),
    "calib_tokens": Param(int, 8192, "calibration tokens (Wanda, SparseGPT), integer >= 1",
                          at_least(1)),
    "eval_tokens": Param(int, 4096, "scored tokens of the perplexity evaluation, >= 16",
                         at_least(16)),
    "cloze_items": Param(int, 32, "in-context cloze prompts, integer >= 1", at_least(1)),
}


@dataclass
class PrunedLlmInputs:
    """What a build group shares: the pruned model's spec, the phase, the evaluation ids."""

    spec: PruneSpec
    phase: Phase
    ids: np.ndarray
    eval_tokens: int
    cloze_items: int


@dataclass(frozen=True)
class DecodeBatch:
    """``contexts``: b x c ids in the KV cache; ``tokens``: the b new ones; batch ``index``."""

    contexts: np.ndarray
    tokens: np.ndarray
    index: int


@dataclass(frozen=True)
class PrefillBatch:
    ids: np.ndarray
    index: int


class PrunedLlmInstance(WorkloadInstance):
    family = "pruned-llm"

    def __init__(self, params: dict[str, Any], seed: int):
        self.params, self.seed = params, seed
        self.phase = parse_phase(params["phase"])
        self.pattern = parse_pattern(params["pattern"])
        self.spec = PruneSpec(params["model"], params["method"], self.pattern.label,
                              params["calib_tokens"])

    @property
    def label(self) -> str:
        model = self.spec.model if self.spec.model == "smollm2" else \
            self.spec.model.rstrip("/").rsplit("/", 1)[-1]
        return f"{model} {self.spec.method} {self.pattern.label} {self.phase.label}"

    def data_artifacts(self) -> tuple[str, ...]:
        """What ``run-suite fetch`` fetches ahead of time for this instance."""
        return ("smollm2", "plays") if self.spec.model == "smollm2" else ("plays",)

    def build_inputs(self) -> PrunedLlmInputs:
        from suite.data.models import split_ids

        ids = np.asarray(split_ids(self.spec.model, "evaluation"), dtype=np.int64)
        return PrunedLlmInputs(self.spec, self.phase, ids, self.params["eval_tokens"],
                               self.params["cloze_items"])

    def batches(self, inputs: PrunedLlmInputs, count: int, scenario: str = "batch") -> list:
        """Decode: the same b contexts (distinct windows of the evaluation split, one KV
        cache), batch r feeding the tokens r places after them; prefill: consecutive
        windows."""
        p, ids = self.phase, inputs.ids
        if p.kind == "prefill":
            _need(ids, count * p.context)
            return [PrefillBatch(ids[r * p.context:(r + 1) * p.context], r) for r in range(count)]
        stride = p.context + count
        _need(ids, p.batch * stride)
        starts = np.arange(p.batch) * stride
        contexts = np.stack([ids[s:s + p.context] for s in starts])
        return [DecodeBatch(contexts, ids[starts + p.context + r], r) for r in range(count)]

    def reference(self, inputs, batch):
        raise RuntimeError("pruned-llm's reference is the dense system's output "
                           "(FamilySpec.reference='baseline')")

    def work(self, inputs: PrunedLlmInputs, batch) -> Work:
        from suite.data.models import llama_config
        from suite.workloads.pruned_llm_model import pruned_model
        from suite.workloads.pruned_llm_system import step_work

        nnz = pruned_model(self.spec).nnz
        return step_work(llama_config(self.spec.model), self.phase, nnz)

    def check(self, output: Any, reference: np.ndarray, inputs: PrunedLlmInputs,
              prepared: Prepared, batch: Any = None) -> Check:
        out64, failed = as_checked_float64(output, np.asarray(reference))
        if failed is not None:
            return failed
        error = rel_error(out64, np.asarray(reference, dtype=np.float64))
        quality = prepared.info.get("quality", {})
        accuracy = {k: quality[k] for k in ("perplexity", "ppl_ratio", "cloze_acc")
                    if k in quality}
        accuracy["logit_rel_error"] = error
        valid = error <= TOLERANCE
        reason = "" if valid else f"logits rel_error {error:.3g} > tolerance {TOLERANCE:g}"
        return Check(valid, accuracy, {"logit_rel_error": {"value": error, "max": TOLERANCE}},
                     reason)


def _need(ids: np.ndarray, tokens: int) -> None:
    if tokens > len(ids):
        raise ParamError("phase", tokens, f"at most {len(ids)} tokens of the evaluation split")


def build(params: dict[str, Any], seed: int) -> PrunedLlmInstance:
    """One grid point; ``dense`` (the unpruned model) goes with pattern ``dense`` only."""
    if (params["method"] == "dense") != (params["pattern"] == "dense"):
        raise ParamError("pattern", params["pattern"], "dense with method dense, and a "
                         "sparse pattern with any other method (give dense its own group)")
    return PrunedLlmInstance(dict(params), seed)


def plot(frame, out_dir):
    """Lazy import: matplotlib only when reports are drawn."""
    from suite.workloads.pruned_llm_report import write_report
    return write_report(frame, out_dir)


register_family(FamilySpec(
    name="pruned-llm", build=build, params=PARAMS, baseline_kernel="dense",
    accuracy=(
        AccuracyMetric("perplexity", higher_is_better=False, low=1.0,
                       description="perplexity of the pruned model on the evaluation split"),
        AccuracyMetric("ppl_ratio", higher_is_better=False, low=0.0,
                       description="perplexity over the dense model's"),
        AccuracyMetric("cloze_acc", higher_is_better=True, low=0.0, high=1.0,
                       description="top-1 accuracy on in-context known-item cloze prompts"),
        AccuracyMetric("logit_rel_error", higher_is_better=False, low=0.0,
                       description="this backend's logits vs dense on the same weights")),
    reference="baseline", timed_scope="one decode step (B sequences, every layer, attention "
    "over the KV cache, LM head) or one prefill (last token's logits); inputs prepared",
    description="a pruned Llama model (magnitude, Wanda, SparseGPT) decoding or prefilling "
                "through each backend's SpMM kernels", plot=plot))
