"""The timed step of a Llama model: one decode step over a KV cache, or one prefill.

``build_cache(model, contexts)`` runs each of ``b`` contexts (``b x c`` token ids) through
the model and keeps every layer's keys (after RoPE) and values, with one slot reserved for
the next token; ``cache_arrays`` / ``cache_of_arrays`` turn a cache into arrays to store and back;
``decode_step(model, tokens, cache)`` feeds ``b`` new tokens (one per
sequence) through every layer, writing their key and value into that reserved slot and
attending over all ``c + 1`` positions, and returns the ``b x vocab`` logits. Each call
writes before it reads, so repeated calls on one cache are independent of each other.
``prefill_logits(model, ids)`` runs a whole prompt and returns its last token's logits
(the LM head on that row only, as a server does); ``prefill_hidden`` is
``LlamaModel.hidden`` with each KV head's query group attending as one 2-D GEMM
(``grouped_attention``: the same numbers, about 5x faster than the data layer's 4-D
broadcast matmul at 512 tokens, so attention does not drown the linears' speedups).
Every linear layer goes through ``model.linears`` (so a backend's kernels do the matrix
products); attention, norms and RoPE are numpy. Cost of a decode step: every weight read
once, ``b * c`` cached positions attended per layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from suite.data.llama import Hooks, apply_rope, rms_norm, rope_tables


@dataclass
class KVCache:
    """Per layer ``keys`` / ``values``: ``b x kv_heads x (context + 1) x head_dim``."""

    keys: list[np.ndarray]
    values: list[np.ndarray]
    context: int
    cos: np.ndarray
    sin: np.ndarray

    @property
    def batch(self) -> int:
        return self.keys[0].shape[0]

    @property
    def nbytes(self) -> int:
        return int(sum(k.nbytes + v.nbytes for k, v in zip(self.keys, self.values, strict=True)))


class _KeysValues(Hooks):
    def __init__(self):
        self.found: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def qkv(self, layer, q, k, v):
        self.found[layer] = (k.copy(), v.copy())


def build_cache(model, contexts: np.ndarray) -> KVCache:
    """Keys and values of ``contexts`` (``b x c`` ids), one free slot after them."""
    contexts = np.atleast_2d(np.asarray(contexts, dtype=np.int64))
    cfg = model.config
    b, c = contexts.shape
    shape = (b, cfg.num_kv_heads, c + 1, cfg.head_dim)
    keys = [np.zeros(shape, np.float32) for _ in range(cfg.num_layers)]
    values = [np.zeros(shape, np.float32) for _ in range(cfg.num_layers)]
    for s, ids in enumerate(contexts):
        hooks = _KeysValues()
        model.hidden(ids, hooks)
        for i, (k, v) in hooks.found.items():
            keys[i][s, :, :c], values[i][s, :, :c] = k, v
    cos, sin = rope_tables(c + 1, cfg.head_dim, cfg.rope_theta)
    return KVCache(keys, values, c, cos[c], sin[c])


def cache_arrays(cache: KVCache) -> dict[str, np.ndarray]:
    """``cache`` as arrays to store (``cache_of_arrays`` gives it back)."""
    return {"keys": np.stack(cache.keys), "values": np.stack(cache.values),
            "context": np.array(cache.context), "cos": cache.cos, "sin": cache.sin}


def cache_of_arrays(arrays: dict[str, np.ndarray]) -> KVCache:
    keys, values = np.asarray(arrays["keys"]), np.asarray(arrays["values"])
    return KVCache(list(keys), list(values), int(arrays["context"]),
                   np.asarray(arrays["cos"]), np.asarray(arrays["sin"]))


def decode_step(model, tokens: np.ndarray, cache: KVCache) -> np.ndarray:
    """Logits (``b x vocab``, float32) of one new token per sequence."""
    cfg, w = model.config, model.weights
    x = w["embed"][np.asarray(tokens, dtype=np.int64)].astype(np.float32)
    for i in range(cfg.num_layers):
        h = rms_norm(x, w[f"layer{i}.attn-norm"], cfg.rms_norm_eps)
        att = _attend_step(model, i, h, cache)
        x = x + model.linears[f"layer{i}.attn-o"](att)
        h = rms_norm(x, w[f"layer{i}.mlp-norm"], cfg.rms_norm_eps)
        gate = model.linears[f"layer{i}.mlp-gate"](h)
        up = model.linears[f"layer{i}.mlp-up"](h)
        x = x + model.linears[f"layer{i}.mlp-down"](gate * expit(gate) * up)
    x = rms_norm(x, w["norm"], cfg.rms_norm_eps)
    return np.asarray(model.linears["lm-head"](x), dtype=np.float32)


def _attend_step(model, i: int, h: np.ndarray, cache: KVCache) -> np.ndarray:
    """Attention of the new tokens over their sequence's cache; ``b x heads*head_dim``."""
    cfg, b, c = model.config, h.shape[0], cache.context
    hd, kvh = cfg.head_dim, cfg.num_kv_heads
    q = np.asarray(model.linears[f"layer{i}.attn-q"](h)).reshape(b, cfg.num_heads, hd)
    k = np.asarray(model.linears[f"layer{i}.attn-k"](h)).reshape(b, kvh, hd)
    v = np.asarray(model.linears[f"layer{i}.attn-v"](h)).reshape(b, kvh, hd)
    keys, values = cache.keys[i], cache.values[i]
    keys[:, :, c] = apply_rope(k, cache.cos, cache.sin)
    values[:, :, c] = v
    q = apply_rope(q, cache.cos, cache.sin).reshape(b, kvh, cfg.num_heads // kvh, hd)
    scores = q @ keys.transpose(0, 1, 3, 2)
    scores *= np.float32(1.0 / np.sqrt(hd))
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return (scores @ values).reshape(b, cfg.num_heads * hd)


def prefill_logits(model, ids: np.ndarray) -> np.ndarray:
    """The last token's logits (vocab, float32) after the whole prompt ``ids``."""
    x = prefill_hidden(model, np.asarray(ids, dtype=np.int64))
    last = rms_norm(x[-1:], model.weights["norm"], model.config.rms_norm_eps)
    return np.asarray(model.linears["lm-head"](last), dtype=np.float32)[0]


def prefill_hidden(model, ids: np.ndarray) -> np.ndarray:
    """The residual stream (T x hidden) after the last layer, causal over ``ids``."""
    cfg, w = model.config, model.weights
    tokens = len(ids)
    x = w["embed"][ids].astype(np.float32)
    cos, sin = rope_tables(tokens, cfg.head_dim, cfg.rope_theta)
    mask = np.triu(np.full((tokens, tokens), -np.inf, np.float32), 1)
    for i in range(cfg.num_layers):
        h = rms_norm(x, w[f"layer{i}.attn-norm"], cfg.rms_norm_eps)
        q = _heads(model.linears[f"layer{i}.attn-q"](h), cfg.num_heads, cfg.head_dim)
        k = _heads(model.linears[f"layer{i}.attn-k"](h), cfg.num_kv_heads, cfg.head_dim)
        v = _heads(model.linears[f"layer{i}.attn-v"](h), cfg.num_kv_heads, cfg.head_dim)
        att = grouped_attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v, mask)
        x = x + model.linears[f"layer{i}.attn-o"](att.transpose(1, 0, 2).reshape(tokens, -1))
        h = rms_norm(x, w[f"layer{i}.mlp-norm"], cfg.rms_norm_eps)
        gate = model.linears[f"layer{i}.mlp-gate"](h)
        up = model.linears[f"layer{i}.mlp-up"](h)
        x = x + model.linears[f"layer{i}.mlp-down"](gate * expit(gate) * up)
    return x


def _heads(x: np.ndarray, heads: int, head_dim: int) -> np.ndarray:
    return np.asarray(x).reshape(x.shape[0], heads, head_dim).transpose(1, 0, 2)


def grouped_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                      mask: np.ndarray) -> np.ndarray:
    """Causal softmax attention (heads x T x d): each KV head's group of query heads as
    one ``(g T) x d @ d x T`` GEMM, then ``(g T) x T @ T x d``."""
    heads, tokens, dim = q.shape
    groups = heads // k.shape[0]
    out = np.empty_like(q)
    for j in range(k.shape[0]):
        rows = slice(j * groups, (j + 1) * groups)
        scores = (q[rows].reshape(groups * tokens, dim) @ k[j].T).reshape(groups, tokens, -1)
        scores *= np.float32(1.0 / np.sqrt(dim))
        scores += mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        out[rows] = (scores.reshape(groups * tokens, -1) @ v[j]).reshape(groups, tokens, dim)
    return out
