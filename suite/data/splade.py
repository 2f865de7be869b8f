"""SPLADE sparse encoding: BERT masked-LM logits pooled into one sparse vocabulary vector.

A text's vector is ``max over tokens of log(1 + relu(logits))`` (SPLADE max pooling), so
a few tens of vocabulary entries are non-zero. ``SpladeEncoder.encode(texts) ->
scipy.sparse.csr_matrix`` (texts x vocab, float32); scores are dot products. Main entries:
``load_splade(model="splade-tiny")``, ``encode_passages(...)`` (cached on disk).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from suite.data.bert import BertMaskedLM
from suite.data.cache import derived
from suite.data.models import model_identity, model_path
from suite.data.text import Passage, passages
from suite.data.tokenizer import Tokenizer, folder_tokenizer


class SpladeEncoder:
    """A BERT masked-LM plus its tokenizer; ``max_tokens`` truncates long texts."""

    def __init__(self, model: BertMaskedLM, tokenizer: Tokenizer, max_tokens: int = 256):
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens = min(max_tokens, model.config.max_positions)

    def encode(self, texts: list[str], batch: int = 32):
        """Sparse SPLADE vectors, one row per text (CSR, float32)."""
        import scipy.sparse as sp

        rows = []
        for start in range(0, len(texts), batch):
            rows.extend(self._encode_batch(texts[start:start + batch]))
        vocab = self.model.config.vocab_size
        if not rows:
            return sp.csr_matrix((0, vocab), dtype=np.float32)
        return sp.vstack([sp.csr_matrix(r.reshape(1, -1)) for r in rows], format="csr")

    def _encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """Encoders per text; one masked-LM head product over all of the batch's tokens."""
        hidden, bounds = [], [0]
        for text in texts:
            ids = self.tokenizer.encode(text, special=True)
            if len(ids) > self.max_tokens:
                ids = ids[: self.max_tokens - 1] + ids[-1:]  # keep the closing [SEP]
            hidden.append(self.model.encode(ids))
            bounds.append(bounds[-1] + len(ids))
        logits = self.model.mlm_logits(np.concatenate(hidden))
        # log(1 + relu(.)) is monotone, so the max over tokens can be taken first.
        peaks = [logits[a:b].max(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return [np.log1p(np.maximum(p, 0.0)) for p in peaks]


@lru_cache(maxsize=4)
def load_splade(model: str = "splade-tiny", max_tokens: int = 256) -> SpladeEncoder:
    """The SPLADE encoder of a known name or a Hugging Face BertForMaskedLM folder."""
    folder = model_path(model)
    return SpladeEncoder(BertMaskedLM.from_folder(folder), folder_tokenizer(folder), max_tokens)


def encode_passages(model: str = "splade-tiny", min_words: int = 40, limit: int | None = None,
                    max_tokens: int = 256):
    """(CSR matrix, passages) of the ``passages`` split, encoded once and cached on disk."""
    items: list[Passage] = passages(min_words)[:limit]
    key = {"model": model_identity(model), "min_words": min_words, "count": len(items),
           "max_tokens": max_tokens}

    def build():
        m = load_splade(model, max_tokens).encode([p.text for p in items])
        return {"data": m.data, "indices": m.indices, "indptr": m.indptr,
                "shape": np.array(m.shape)}

    arrays = derived("splade-passages", key, build)
    import scipy.sparse as sp

    matrix = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                           shape=tuple(int(s) for s in arrays["shape"]))
    return matrix, items
