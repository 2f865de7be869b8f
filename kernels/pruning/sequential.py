"""Prune a Llama model's linear layers block by block, as the Wanda and SparseGPT papers do.

``prune_llama(model, method, pattern, calibration) -> PruneResult``: every linear layer of
every transformer block (``layer{i}.attn-q`` .. ``mlp-down``; embeddings, norms and the
LM head stay dense, as in both papers) pruned to the same pattern. ``magnitude`` needs no
data. ``wanda`` and ``sparsegpt`` run the calibration windows (token ids) through the model
one block at a time: each block sees the hidden states its already-pruned predecessors
produce, and inside a block each group of layers (q/k/v, o, gate/up, down) is calibrated
on the inputs the already-pruned layers before it produce (GPTQ's "true sequential" order).
Cost: one forward pass over the calibration tokens, plus ``X^T X`` per distinct layer input
and the OBS updates for SparseGPT; the calibration windows' hidden states stay in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from kernels.pruning.magnitude import magnitude_mask
from kernels.pruning.sparsegpt import sparsegpt_prune
from kernels.pruning.stats import InputStats
from kernels.pruning.wanda import wanda_mask
from suite.data.llama import LINEAR_KINDS, apply_rope, causal_attention, rms_norm, rope_tables

METHODS = ("magnitude", "wanda", "sparsegpt")
Progress = Callable[[int, int], None]


@dataclass
class PruneResult:
    """Pruned linears (float32, out x in, zeros where pruned), their keep-masks, seconds."""

    weights: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    seconds: float
    calibration_tokens: int = 0


def block_linears(num_layers: int) -> list[str]:
    return [f"layer{i}.{kind}" for i in range(num_layers) for kind in LINEAR_KINDS]


def prune_llama(model, method: str, pattern, calibration: Sequence[np.ndarray] = (),
                progress: Progress | None = None) -> PruneResult:
    """Prune ``model`` (a ``suite.data.llama.LlamaModel``; left unchanged)."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}; allowed: {', '.join(METHODS)}")
    start = time.perf_counter()
    if method == "magnitude":
        result = _magnitude(model, pattern)
    else:
        if not calibration:
            raise ValueError(f"{method} needs calibration windows (token ids)")
        result = _Sequential(model, method, pattern, progress).run(calibration)
    result.seconds = time.perf_counter() - start
    return result


def _magnitude(model, pattern) -> PruneResult:
    weights, masks = {}, {}
    for name in block_linears(model.config.num_layers):
        masks[name] = magnitude_mask(model.weights[name], pattern)
        weights[name] = np.where(masks[name], model.weights[name], 0).astype(np.float32)
    return PruneResult(weights, masks, 0.0)


class _Sequential:
    """Calibration-driven pruning, block by block (see the module docstring)."""

    def __init__(self, model, method: str, pattern, progress: Progress | None):
        self.model, self.method, self.pattern = model, method, pattern
        self.cfg = model.config
        self.progress = progress or (lambda done, total: None)
        self.weights: dict[str, np.ndarray] = {}
        self.masks: dict[str, np.ndarray] = {}

    def run(self, calibration: Sequence[np.ndarray]) -> PruneResult:
        embed = self.model.weights["embed"]
        xs = [embed[np.asarray(ids, dtype=np.int64)].astype(np.float32) for ids in calibration]
        for i in range(self.cfg.num_layers):
            xs = self._block(i, xs)
            self.progress(i + 1, self.cfg.num_layers)
        tokens = sum(len(ids) for ids in calibration)
        return PruneResult(self.weights, self.masks, 0.0, tokens)

    def _block(self, i: int, xs: list[np.ndarray]) -> list[np.ndarray]:
        w, eps = self.model.weights, self.cfg.rms_norm_eps
        hs = [rms_norm(x, w[f"layer{i}.attn-norm"], eps) for x in xs]
        self._prune(i, ("attn-q", "attn-k", "attn-v"), hs)
        heads = [self._attention(i, h) for h in hs]
        wo = self._prune(i, ("attn-o",), heads)[0]
        xs = [x + a @ wo.T for x, a in zip(xs, heads, strict=True)]
        hs = [rms_norm(x, w[f"layer{i}.mlp-norm"], eps) for x in xs]
        gate, up = self._prune(i, ("mlp-gate", "mlp-up"), hs)
        acts = [_swiglu(h @ gate.T, h @ up.T) for h in hs]
        down = self._prune(i, ("mlp-down",), acts)[0]
        return [x + a @ down.T for x, a in zip(xs, acts, strict=True)]

    def _prune(self, i: int, kinds: tuple[str, ...], inputs: list[np.ndarray]) -> list:
        """Prune the layers of ``kinds`` (they share ``inputs``); their pruned weights."""
        stats = InputStats(inputs[0].shape[1], hessian=self.method == "sparsegpt")
        for x in inputs:
            stats.add(x)
        hessian = stats.hessian() if self.method == "sparsegpt" else None
        out = []
        for kind in kinds:
            name = f"layer{i}.{kind}"
            dense = self.model.weights[name]
            if hessian is None:
                mask = wanda_mask(dense, stats.sq_sum, self.pattern)
                pruned = np.where(mask, dense, 0).astype(np.float32)
            else:
                pruned, mask = sparsegpt_prune(dense, hessian, self.pattern)
            self.weights[name], self.masks[name] = pruned, mask
            out.append(pruned)
        return out

    def _attention(self, i: int, h: np.ndarray) -> np.ndarray:
        """The attention heads' output (T x heads*head_dim) with the pruned q/k/v."""
        cfg, tokens = self.cfg, h.shape[0]
        cos, sin = rope_tables(tokens, cfg.head_dim, cfg.rope_theta)
        q = _heads(h @ self.weights[f"layer{i}.attn-q"].T, cfg.num_heads, cfg.head_dim)
        k = _heads(h @ self.weights[f"layer{i}.attn-k"].T, cfg.num_kv_heads, cfg.head_dim)
        v = _heads(h @ self.weights[f"layer{i}.attn-v"].T, cfg.num_kv_heads, cfg.head_dim)
        out = causal_attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v)
        return out.transpose(1, 0, 2).reshape(tokens, -1)


def _heads(x: np.ndarray, heads: int, head_dim: int) -> np.ndarray:
    return x.reshape(x.shape[0], heads, head_dim).transpose(1, 0, 2)


def _swiglu(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    return gate * expit(gate) * up
