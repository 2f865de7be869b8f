"""A Llama-architecture forward pass in numpy with pluggable linear layers and capture hooks.

``LlamaModel(config, weights)`` holds float32 weights in Hugging Face layout (SmolLM2,
TinyLlama, Llama-2/3 shaped checkpoints; ``suite.data.llama_load`` reads them from GGUF or
safetensors). ``forward(ids) -> logits`` (T x vocab) runs one sequence causally.

Every linear layer is a callable ``x (T x in) -> (T x out)`` under a name
``layer{i}.attn-q|attn-k|attn-v|attn-o|mlp-gate|mlp-up|mlp-down`` or ``lm-head``;
``with_linears({name: fn})`` gives a model whose layers run through another
implementation, e.g. an SpMM kernel of the registry on pruned weights::

    pruned = model.with_linears({"layer3.mlp-up": column_linear(prepared.run)})

``Hooks`` sees Q, K (after RoPE; heads x T x head_dim) and V of every layer and the input
of every linear layer; ``suite.data.capture`` records them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

Linear = Callable[[np.ndarray], np.ndarray]
LINEAR_KINDS = ("attn-q", "attn-k", "attn-v", "attn-o", "mlp-gate", "mlp-up", "mlp-down")


@dataclass(frozen=True)
class LlamaConfig:
    """Shapes and constants of a Llama checkpoint (names as in Hugging Face's config)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10_000.0
    bos_token_id: int | None = None

    def linear_shape(self, kind: str) -> tuple[int, int]:
        """(out, in) of one linear kind, e.g. ``mlp-up`` -> (intermediate, hidden)."""
        d, kv = self.hidden_size, self.num_kv_heads * self.head_dim
        shapes = {"attn-q": (self.num_heads * self.head_dim, d), "attn-k": (kv, d),
                  "attn-v": (kv, d), "attn-o": (d, self.num_heads * self.head_dim),
                  "mlp-gate": (self.intermediate_size, d), "mlp-up": (self.intermediate_size, d),
                  "mlp-down": (d, self.intermediate_size), "lm-head": (self.vocab_size, d)}
        return shapes[kind]


class DenseLinear:
    """``x @ weight.T`` with a float32 (out x in) weight: the default of every layer."""

    def __init__(self, weight: np.ndarray):
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T


def column_linear(run: Callable[[np.ndarray], np.ndarray]) -> Linear:
    """Adapt an SpMM ``run(X: in x T) -> (out x T)`` (the registry's convention) to a layer."""
    def linear(x: np.ndarray) -> np.ndarray:
        return np.asarray(run(np.ascontiguousarray(x.T))).T
    return linear


class Hooks:
    """What a forward pass reports; subclass and override what you need."""

    def qkv(self, layer: int, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        """Q: heads x T x head_dim after RoPE; K likewise (kv heads); V: kv heads x T x d."""

    def linear_input(self, name: str, x: np.ndarray) -> None:
        """The T x in activations a linear layer is about to multiply."""


class LlamaModel:
    """Weights (Hugging Face layout, float32) plus the linear implementations in use."""

    def __init__(self, config: LlamaConfig, weights: dict[str, np.ndarray],
                 linears: dict[str, Linear] | None = None):
        self.config = config
        self.weights = weights
        self.linears = linears or {n: DenseLinear(weights[n]) for n in self.linear_names()}

    def linear_names(self) -> list[str]:
        names = [f"layer{i}.{kind}" for i in range(self.config.num_layers)
                 for kind in LINEAR_KINDS]
        return [*names, "lm-head"]

    def with_linears(self, replacements: dict[str, Linear]) -> LlamaModel:
        """A model sharing these weights whose named layers run through ``replacements``."""
        unknown = sorted(set(replacements) - set(self.linears))
        if unknown:
            raise ValueError(f"unknown linear {unknown[0]!r}; allowed: layer0.attn-q .. "
                             f"layer{self.config.num_layers - 1}.mlp-down, lm-head")
        return LlamaModel(self.config, self.weights, {**self.linears, **replacements})

    @property
    def parameter_count(self) -> int:
        tied = self.weights["lm-head"] is self.weights["embed"]
        return sum(w.size for n, w in self.weights.items() if not (tied and n == "lm-head"))

    def forward(self, ids: Sequence[int] | np.ndarray, hooks: Hooks | None = None) -> np.ndarray:
        """Logits (T x vocab, float32) of one sequence of token ids."""
        x = self.hidden(ids, hooks)
        x = rms_norm(x, self.weights["norm"], self.config.rms_norm_eps)
        return self._linear("lm-head", x, hooks)

    def hidden(self, ids: Sequence[int] | np.ndarray, hooks: Hooks | None = None,
               last_layer: int | None = None) -> np.ndarray:
        """The residual stream (T x hidden) after layer ``last_layer`` (default: the last)."""
        ids = np.asarray(ids, dtype=np.int64)
        x = self.weights["embed"][ids].astype(np.float32)
        rope = rope_tables(len(ids), self.config.head_dim, self.config.rope_theta)
        mask = np.triu(np.full((len(ids), len(ids)), -np.inf, np.float32), 1)
        stop = self.config.num_layers - 1 if last_layer is None else last_layer
        for i in range(stop + 1):
            x = x + self._attention(i, x, rope, mask, hooks)
            x = x + self._mlp(i, x, hooks)
        return x

    def _linear(self, name: str, x: np.ndarray, hooks: Hooks | None) -> np.ndarray:
        if hooks is not None:
            hooks.linear_input(name, x)
        return self.linears[name](x)

    def _attention(self, i: int, x: np.ndarray, rope: tuple[np.ndarray, np.ndarray],
                   mask: np.ndarray, hooks: Hooks | None) -> np.ndarray:
        cfg, tokens, (cos, sin) = self.config, x.shape[0], rope
        h = rms_norm(x, self.weights[f"layer{i}.attn-norm"], cfg.rms_norm_eps)
        q = self._heads(self._linear(f"layer{i}.attn-q", h, hooks), cfg.num_heads)
        k = self._heads(self._linear(f"layer{i}.attn-k", h, hooks), cfg.num_kv_heads)
        v = self._heads(self._linear(f"layer{i}.attn-v", h, hooks), cfg.num_kv_heads)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if hooks is not None:
            hooks.qkv(i, q, k, v)
        out = causal_attention(q, k, v, mask).transpose(1, 0, 2).reshape(tokens, -1)
        return self._linear(f"layer{i}.attn-o", out, hooks)

    def _heads(self, x: np.ndarray, heads: int) -> np.ndarray:
        return x.reshape(x.shape[0], heads, self.config.head_dim).transpose(1, 0, 2)

    def _mlp(self, i: int, x: np.ndarray, hooks: Hooks | None) -> np.ndarray:
        h = rms_norm(x, self.weights[f"layer{i}.mlp-norm"], self.config.rms_norm_eps)
        gate = self._linear(f"layer{i}.mlp-gate", h, hooks)
        up = self._linear(f"layer{i}.mlp-up", h, hooks)
        return self._linear(f"layer{i}.mlp-down", gate * expit(gate) * up, hooks)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + np.float32(eps))
    return (x * scale).astype(np.float32) * weight


def rope_tables(tokens: int, head_dim: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin (T x head_dim) of Hugging Face's rotate-half RoPE."""
    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    angles = np.arange(tokens, dtype=np.float32)[:, None] * inv_freq.astype(np.float32)[None]
    angles = np.concatenate([angles, angles], axis=1)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def causal_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                     mask: np.ndarray | None = None) -> np.ndarray:
    """Softmax(QK^T / sqrt(d) + mask) V, causal by default; K and V heads are shared by
    groups of query heads (grouped-query attention)."""
    heads, tokens, dim = q.shape
    if mask is None:
        mask = np.triu(np.full((tokens, k.shape[1]), -np.inf, np.float32), 1)
    qg = q.reshape(k.shape[0], heads // k.shape[0], tokens, dim)
    scores = qg @ k[:, None].transpose(0, 1, 3, 2)
    scores *= np.float32(1.0 / np.sqrt(dim))
    scores += mask
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return (scores @ v[:, None]).reshape(heads, tokens, dim)
