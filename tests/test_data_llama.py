"""The numpy Llama forward pass on a tiny two-layer model written as GGUF in the test.

The reference is an independent float64 implementation of the Llama equations on the
Hugging Face-layout weights; the model under test reads them back from the GGUF file
(Q8_0 dequantisation, llama.cpp's Q/K interleave undone) or a safetensors folder.
"""

import numpy as np
import pytest

from suite.data.capture import Recorder
from suite.data.llama import DenseLinear, column_linear
from suite.data.llama_load import load_llama, permute_rows, read_config, read_linear, unpermute_rows
from suite.data.perplexity import perplexity, token_nll, windows_of
from suite.data.tiny import TINY_LLAMA, write_tiny_gguf, write_tiny_hf
from suite.errors import UserError

IDS = [0, 17, 99, 250, 3, 3, 120, 77, 260, 5, 42, 199]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    weights = write_tiny_gguf(folder / "tiny.gguf")
    return folder / "tiny.gguf", weights


def reference_logits(w, ids, cfg=TINY_LLAMA):
    """Llama in float64, written from the equations (rotate-half RoPE, GQA, SwiGLU)."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    t, hd = len(ids), cfg.head_dim

    def norm(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + cfg.rms_norm_eps) * g

    inv = 1.0 / cfg.rope_theta ** (np.arange(0, hd, 2) / hd)
    ang = np.arange(t)[:, None] * inv[None]
    cos, sin = np.cos(np.hstack([ang, ang])), np.sin(np.hstack([ang, ang]))

    def rope(x):
        return x * cos + np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], -1) * sin

    x = w["embed"][ids]
    for i in range(cfg.num_layers):
        h = norm(x, w[f"layer{i}.attn-norm"])
        q = rope((h @ w[f"layer{i}.attn-q"].T).reshape(t, -1, hd).transpose(1, 0, 2))
        k = rope((h @ w[f"layer{i}.attn-k"].T).reshape(t, -1, hd).transpose(1, 0, 2))
        v = (h @ w[f"layer{i}.attn-v"].T).reshape(t, -1, hd).transpose(1, 0, 2)
        rep = cfg.num_heads // cfg.num_kv_heads
        k, v = np.repeat(k, rep, 0), np.repeat(v, rep, 0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + np.triu(np.full((t, t), -np.inf), 1)
        p = np.exp(s - s.max(-1, keepdims=True))
        o = (p / p.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(t, -1)
        x = x + o @ w[f"layer{i}.attn-o"].T
        h = norm(x, w[f"layer{i}.mlp-norm"])
        g = h @ w[f"layer{i}.mlp-gate"].T
        x = x + (g / (1 + np.exp(-g)) * (h @ w[f"layer{i}.mlp-up"].T)) @ w[f"layer{i}.mlp-down"].T
    return norm(x, w["norm"]) @ w["embed"].T


def test_gguf_logits_match_the_float64_equations(tiny):
    path, weights = tiny
    logits = load_llama(path).forward(IDS)
    ref = reference_logits(weights, IDS)
    assert logits.dtype == np.float32 and logits.shape == (len(IDS), TINY_LLAMA.vocab_size)
    assert np.abs(logits - ref).max() <= 1e-4 * np.abs(ref).max()


def test_a_safetensors_folder_gives_the_same_model(tiny, tmp_path):
    path, weights = tiny
    folder = write_tiny_hf(tmp_path / "hf", weights)
    np.testing.assert_allclose(load_llama(folder).forward(IDS), load_llama(path).forward(IDS),
                               rtol=0, atol=1e-5)
    hf, gguf = read_config(folder), read_config(path)
    assert (hf.num_layers, hf.num_kv_heads, hf.head_dim) == (gguf.num_layers, 2, 8)
    np.testing.assert_array_equal(read_linear(folder, "layer1.attn-k"), weights["layer1.attn-k"])


def test_config_and_one_layer_read_without_the_rest(tiny):
    path, weights = tiny
    cfg = read_config(path)
    assert (cfg.num_layers, cfg.hidden_size, cfg.num_kv_heads) == (2, 32, 2)
    assert cfg.rms_norm_eps == pytest.approx(TINY_LLAMA.rms_norm_eps)
    for name in ("layer0.attn-q", "layer1.attn-k", "layer1.mlp-up"):
        np.testing.assert_array_equal(read_linear(path, name), weights[name])
    with pytest.raises(UserError, match="allowed: layer<i>"):
        read_linear(path, "layer0.mlp")
    with pytest.raises(UserError, match=r"layer 5; allowed: 0..1"):
        read_linear(path, "layer5.mlp-up")


def test_llama_cpp_interleave_round_trips():
    w = np.arange(48 * 3, dtype=np.float32).reshape(48, 3)
    np.testing.assert_array_equal(unpermute_rows(permute_rows(w, 3), 3), w)
    assert not np.array_equal(permute_rows(w, 3), w)


def test_the_forward_pass_is_causal(tiny):
    model = load_llama(tiny[0])
    full, prefix = model.forward(IDS), model.forward(IDS[:5])
    np.testing.assert_allclose(full[:5], prefix, atol=1e-5)


def test_linears_are_pluggable(tiny):
    model = load_llama(tiny[0])
    w = model.weights["layer1.mlp-up"]
    same = model.with_linears({"layer1.mlp-up": column_linear(lambda x: w @ x)})
    np.testing.assert_allclose(same.forward(IDS), model.forward(IDS), atol=1e-5)
    pruned = np.where(np.abs(w) >= np.median(np.abs(w)), w, 0)
    changed = model.with_linears({"layer1.mlp-up": DenseLinear(pruned)})
    assert np.abs(changed.forward(IDS) - model.forward(IDS)).max() > 1e-3
    assert model.linears["layer1.mlp-up"].weight is w  # the original is untouched
    with pytest.raises(ValueError, match="unknown linear 'layer9.mlp-up'"):
        model.with_linears({"layer9.mlp-up": DenseLinear(w)})


def test_hooks_see_qkv_per_head_and_linear_inputs(tiny):
    model = load_llama(tiny[0])
    rec = Recorder(qkv_layers=[0, 1], names=["layer1.mlp-down", "lm-head"])
    model.forward(IDS, rec)
    t = len(IDS)
    assert rec.attention[0].q.shape == (4, t, 8) and rec.attention[1].k.shape == (2, t, 8)
    assert rec.attention[1].v.shape == (2, t, 8)
    assert rec.inputs["layer1.mlp-down"][0].shape == (t, 64)
    assert rec.inputs["lm-head"][0].shape == (t, 32)
    early = Recorder(qkv_layers=[0, 1])
    model.hidden(IDS, early, last_layer=0)
    assert set(early.attention) == {0}
    np.testing.assert_array_equal(early.attention[0].q, rec.attention[0].q)


def test_perplexity_counts_scored_tokens_in_non_overlapping_windows(tiny):
    chunks = windows_of(list(range(10)), 4)
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert sum(len(c) - 1 for c in windows_of(list(range(100)), 8, max_tokens=20)) == 20

    class Uniform:
        def forward(self, ids):
            return np.zeros((len(ids), 50), np.float32)

    result = perplexity(Uniform(), list(range(30)), context=8)
    assert result.perplexity == pytest.approx(50.0) and result.tokens == 26
    logits = load_llama(tiny[0]).forward(IDS)
    nll = token_nll(logits, np.array(IDS))
    assert nll.shape == (len(IDS) - 1,) and np.all(nll > 0)
