"""BERT masked-LM forward and SPLADE pooling on a tiny BERT written in the test."""

import numpy as np
import pytest
from scipy.special import erf

from suite.data import text
from suite.data.bert import BertMaskedLM
from suite.data.splade import encode_passages, load_splade
from suite.data.tiny import write_tiny_bert, write_tiny_plays
from suite.errors import UserError


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("bert") / "model")


def reference_logits(w, ids, heads=2, eps=1e-12):
    """BERT-for-masked-LM in float64 from the equations (post-norm, erf GELU, tied decoder)."""
    w = {k: v.astype(np.float64) for k, v in w.items()}

    def ln(x, n):
        m, v = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * w[f"{n}.weight"] + w[f"{n}.bias"]

    def dense(x, n):
        return x @ w[f"{n}.weight"].T + w[f"{n}.bias"]

    def gelu(x):
        return 0.5 * x * (1 + erf(x / np.sqrt(2)))

    t = len(ids)
    x = ln(w["embeddings.word_embeddings.weight"][ids]
           + w["embeddings.position_embeddings.weight"][:t]
           + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    for i in range(2):
        p = f"encoder.layer.{i}."
        q, k, v = (dense(x, p + "attention.self." + n).reshape(t, heads, -1).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
        a = np.exp(s - s.max(-1, keepdims=True))
        ctx = (a / a.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(t, -1)
        x = ln(x + dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        x = ln(x + dense(gelu(dense(x, p + "intermediate.dense")), p + "output.dense"),
               p + "output.LayerNorm")
    h = ln(gelu(dense(x, "cls.predictions.transform.dense")),
           "cls.predictions.transform.LayerNorm")
    return h @ w["embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]


def test_masked_lm_logits_match_the_float64_equations(bert_dir):
    model = BertMaskedLM.from_folder(bert_dir)
    ids = [2, 5, 6, 17, 9, 3]
    got = model.mlm_logits(model.encode(ids))
    ref = reference_logits(model.w, ids)
    assert got.shape == (6, model.config.vocab_size)
    assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()


def test_splade_vectors_are_max_pooled_log_saturated_relu(bert_dir):
    encoder = load_splade(str(bert_dir))
    texts = ["The king is dead.", "A ghost in the castle at night!", "zebra"]
    matrix = encoder.encode(texts, batch=2)
    assert matrix.shape == (3, encoder.model.config.vocab_size)
    assert matrix.dtype == np.float32 and matrix.data.min() > 0
    ids = encoder.tokenizer.encode(texts[1], special=True)
    logits = encoder.model.mlm_logits(encoder.model.encode(ids))
    expected = np.log1p(np.maximum(logits, 0)).max(axis=0)
    np.testing.assert_allclose(matrix[1].toarray()[0], expected, rtol=1e-6)
    assert encoder.encode([]).shape == (0, encoder.model.config.vocab_size)


def test_long_texts_are_truncated_keeping_the_closing_sep(bert_dir):
    encoder = load_splade(str(bert_dir), max_tokens=8)
    row = encoder.encode(["the king " * 50])
    assert row.shape[0] == 1 and row.nnz > 0


def test_passages_are_encoded_once_and_cached(bert_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSECAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(text, "plays_folder", lambda: write_tiny_plays(tmp_path / "plays"))
    matrix, items = encode_passages(str(bert_dir), min_words=20, limit=12)
    assert matrix.shape[0] == len(items) == 12
    calls = []
    monkeypatch.setattr("suite.data.splade.load_splade", lambda *a: calls.append(a))
    again, _ = encode_passages(str(bert_dir), min_words=20, limit=12)
    assert calls == [] and (again != matrix).nnz == 0


def test_a_folder_without_config_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        BertMaskedLM.from_folder(tmp_path)
