"""The quality of a pruned model: perplexity on the evaluation split and the cloze check.

``model_quality(pruned, eval_tokens, cloze_items) -> dict`` evaluates the pruned model's
dense-numpy forward pass (every backend's logits are checked against the dense one's in
the timed runs, so they share these figures to float32 tolerance): ``perplexity`` over
``eval_tokens`` scored tokens in windows of ``EVAL_CONTEXT`` (``suite.data.perplexity``),
``cloze_acc`` (``suite.workloads.pruned_llm_cloze``), and how long the evaluation took.
Results are cached with ``suite.data.cache.derived`` under the pruned model's key and the
evaluation settings (bump ``QUALITY_VERSION`` when the evaluation changes), so each pruned
model is evaluated once per machine. ``with_ratio(quality, dense)`` adds ``ppl_ratio``.
Cost: one forward pass per evaluation window and one prefill per cloze item.
"""

from __future__ import annotations

import time

import numpy as np

QUALITY_VERSION = "quality-1"
EVAL_CONTEXT = 512


def model_quality(pruned, eval_tokens: int, cloze_items: int) -> dict[str, float]:
    """Perplexity, cloze accuracy and evaluation seconds of ``pruned`` (cached on disk)."""
    from suite.data.cache import derived

    key = {"pruned": pruned.spec.key(), "eval_tokens": eval_tokens,
           "eval_context": EVAL_CONTEXT, "cloze_items": cloze_items, "code": QUALITY_VERSION}
    arrays = derived("pruned-llm-quality", key,
                     lambda: _evaluate(pruned, eval_tokens, cloze_items))
    return {name: float(value) for name, value in arrays.items()}


def _evaluate(pruned, eval_tokens: int, cloze_items: int) -> dict[str, np.ndarray]:
    from suite.data.models import split_ids
    from suite.data.perplexity import perplexity
    from suite.workloads.pruned_llm_cloze import cloze_accuracy
    from suite.workloads.pruned_llm_cloze import cloze_items as make_items

    start = time.perf_counter()
    model = pruned.model
    ppl = perplexity(model, split_ids(pruned.spec.model, "evaluation"), EVAL_CONTEXT,
                     eval_tokens)
    items = make_items(pruned.spec.model, cloze_items)
    cloze = cloze_accuracy(model, items)
    return {"perplexity": np.array(ppl.perplexity), "nll_mean": np.array(ppl.nll_mean),
            "eval_tokens_scored": np.array(ppl.tokens), "cloze_acc": np.array(cloze),
            "cloze_items": np.array(len(items)), "eval_s": np.array(time.perf_counter() - start)}


def with_ratio(quality: dict[str, float], dense: dict[str, float]) -> dict[str, float]:
    """``quality`` plus ``ppl_ratio`` (to the dense model) and the dense figures."""
    return {**quality, "ppl_ratio": quality["perplexity"] / dense["perplexity"],
            "dense_perplexity": dense["perplexity"], "dense_cloze_acc": dense["cloze_acc"]}
