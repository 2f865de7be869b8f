"""A knowledge-style check beyond perplexity: in-context known-item cloze prompts.

In the spirit of LLM-KICK's in-context retrieval tasks (perplexity hides early failures of
pruned models): each item is a passage of the evaluation text (whole speeches, 60-160
words) followed by a blank line and one of its own verse lines with the last word held
out; the model must retrieve that word from the passage it has just read. The score is
top-1 accuracy of the held-out word's first token. Items are spread evenly over the
passages of the split; lines of at least ``MIN_LINE_WORDS`` words ending in a word of at
least three letters qualify, the longest line of a passage is taken.
Entries: ``cloze_items(model_spec, count) -> list[ClozeItem]``, ``cloze_accuracy(model,
items)``; cost: one prefill per item (~150 tokens each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MIN_WORDS, MAX_WORDS = 60, 160
MIN_LINE_WORDS = 6
_LAST_WORD = re.compile(r"^(?P<head>.*\S)\s+(?P<word>[A-Za-z][a-z']{2,})\W*$")


@dataclass(frozen=True)
class ClozeItem:
    """Token ids of the prompt and of the held-out word's first token; the line, as text."""

    prompt: tuple[int, ...]
    target: int
    line: str


def passages_of(text: str) -> list[str]:
    """Consecutive blank-line blocks joined until each holds ``MIN_WORDS`` words; passages
    over ``MAX_WORDS`` words are dropped (keeps prompts short)."""
    found, current, words = [], [], 0
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        current.append(block.strip())
        words += len(block.split())
        if words >= MIN_WORDS:
            if words <= MAX_WORDS:
                found.append("\n\n".join(current))
            current, words = [], 0
    return found


def item_text(passage: str) -> tuple[str, str] | None:
    """(prompt text, held-out word) for one passage, or None when no line qualifies."""
    lines = [ln.strip() for ln in passage.splitlines()
             if len(ln.split()) >= MIN_LINE_WORDS and _LAST_WORD.match(ln.strip())]
    if not lines:
        return None
    line = max(lines, key=lambda ln: (len(ln.split()), ln))
    parts = _LAST_WORD.match(line)
    return f"{passage}\n\n{parts['head']}", parts["word"]


def cloze_items(model_spec: str, count: int, split: str = "evaluation") -> list[ClozeItem]:
    """``count`` items (fewer if the split has fewer) under the model's own tokenizer."""
    from suite.data.models import llama_tokenizer
    from suite.data.text import split_text

    tokenizer = llama_tokenizer(model_spec)
    candidates = [t for t in map(item_text, passages_of(split_text(split))) if t]
    picks = np.unique(np.linspace(0, len(candidates) - 1, min(count, len(candidates)))
                      .round().astype(int)) if candidates else []
    items = []
    for index in picks:
        prompt, word = candidates[index]
        ids = tokenizer.encode(prompt)
        full = tokenizer.encode(f"{prompt} {word}")
        if len(full) > len(ids) and full[:len(ids)] == ids:
            items.append(ClozeItem(tuple(ids), int(full[len(ids)]), f"{prompt[-60:]} {word}"))
    return items


def cloze_accuracy(model, items: list[ClozeItem]) -> float:
    """Share of items whose held-out token is the model's top-1 next token."""
    from suite.workloads.pruned_llm_decode import prefill_logits

    if not items:
        return float("nan")
    hits = [int(np.argmax(prefill_logits(model, np.asarray(it.prompt)))) == it.target
            for it in items]
    return float(np.mean(hits))
