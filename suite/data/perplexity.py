"""Perplexity of a Llama model on token ids, in non-overlapping windows.

Each window of ``context`` tokens is run on its own (no state carried over) and scores its
last ``context - 1`` tokens; perplexity = exp(mean negative log-likelihood) over every
scored token. ``perplexity(model, ids, context, max_tokens) -> PerplexityResult``;
``split_perplexity(spec, split)`` does it for a text split of ``suite.data.text``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PerplexityResult:
    """``perplexity`` over ``tokens`` scored tokens in ``windows`` windows of ``context``."""

    perplexity: float
    nll_mean: float
    tokens: int
    windows: int
    context: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens + self.windows) / self.seconds if self.seconds else 0.0


def windows_of(ids: Sequence[int], context: int, max_tokens: int | None = None) -> list:
    """Consecutive windows of ``context`` ids (a last shorter one kept if it scores any),
    cut so that at most ``max_tokens`` tokens are scored."""
    chunks = [np.asarray(ids[s:s + context], dtype=np.int64)
              for s in range(0, len(ids), context)]
    chunks = [c for c in chunks if len(c) >= 2]
    if max_tokens is None:
        return chunks
    kept, scored = [], 0
    for chunk in chunks:
        if scored >= max_tokens:
            break
        take = min(len(chunk), max_tokens - scored + 1)
        kept.append(chunk[:take])
        scored += take - 1
    return kept


def token_nll(logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Negative log-likelihood (float64) of ``ids[1:]`` under ``logits[:-1]``."""
    scores = logits[:-1].astype(np.float64)
    peak = scores.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(scores - peak).sum(axis=1)) + peak[:, 0]
    return log_norm - scores[np.arange(len(ids) - 1), ids[1:]]


def perplexity(model, ids: Sequence[int], context: int = 512, max_tokens: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> PerplexityResult:
    """Perplexity of ``model`` (anything with ``forward(ids) -> logits``) on ``ids``."""
    chunks = windows_of(ids, context, max_tokens)
    if not chunks:
        raise ValueError("need at least 2 tokens to score")
    total, count, start = 0.0, 0, time.perf_counter()
    for done, chunk in enumerate(chunks, 1):
        nll = token_nll(model.forward(chunk), chunk)
        total, count = total + float(nll.sum()), count + len(nll)
        if progress is not None:
            progress(done, len(chunks))
    mean = total / count
    return PerplexityResult(math.exp(mean), mean, count, len(chunks), context,
                            time.perf_counter() - start)


def split_perplexity(spec: str = "smollm2", split: str = "evaluation", context: int = 512,
                     max_tokens: int | None = None, progress=None) -> PerplexityResult:
    """Dense perplexity of a known model or checkpoint on one text split."""
    from suite.data.models import llama_model, split_ids

    return perplexity(llama_model(spec), split_ids(spec, split), context, max_tokens,
                      progress)
