"""Routing of the MoE family: skewed router logits, softmax top-k, and the capacity rule.

The routing rule (a seeded gate and popularity bias, ``Router``) is made once per build;
each batch the harness feeds is routed by it when the batch is made, so every kernel sees
the same (token, expert, weight) assignments of a batch and the router is not timed.

``parse_routing("uniform" | "zipf(1.2)")`` -> ``Routing``; ``make_router(routing, d, E, k,
rng)`` -> ``Router``, whose ``route(x)`` -> (expert ids T x k, weights T x k);
``capacity(cf, tokens, k, experts)`` and
``dropped_pairs(expert_idx, capacity)`` define GShard-style dropping, which the
``capacity`` kernels implement and the family's check verifies.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from suite.errors import ParamError

ROUTING_HELP = "uniform | zipf(S) with S > 0 (expert popularity ~ rank^-S added to the logits)"
_ZIPF = re.compile(r"^\s*zipf\s*\(\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*\)\s*$")


@dataclass(frozen=True)
class Routing:
    """``zipf_s`` = 0 is uniform routing (logits from the gate alone)."""

    zipf_s: float = 0.0

    @property
    def label(self) -> str:
        return "uniform" if self.zipf_s == 0 else f"zipf({self.zipf_s:g})"


def parse_routing(text: object, field: str = "routing") -> Routing:
    """Parse a routing string; anything else is a ``ParamError`` naming ``field``."""
    if not isinstance(text, str):
        raise ParamError(field, text, ROUTING_HELP)
    if text.strip() == "uniform":
        return Routing()
    match = _ZIPF.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ParamError(field, text, ROUTING_HELP)
    return Routing(float(match.group(1)))


@dataclass(frozen=True)
class Router:
    """The routing rule of one instance: logits = x @ gate + bias, softmax, top-k.

    ``gate``: d_model x E, seeded N(0, 1/d_model); ``bias``: E log-popularity offsets
    (``-s * log(rank)`` for zipf(s), zeros for uniform). Made once per build
    (``make_router``), then applied to every batch (``route``)."""

    gate: np.ndarray
    bias: np.ndarray
    top_k: int

    def route(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expert ids (T x k int32, slot 0 = first choice) and weights (T x k float64).

        Slots are ordered by probability, which the capacity rule uses as priority;
        weights are renormalised over the chosen k (Mixtral style), in float64."""
        logits = x.astype(np.float64) @ self.gate
        logits += self.bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        idx = np.argsort(-probs, axis=1, kind="stable")[:, :self.top_k]
        chosen = np.take_along_axis(probs, idx, axis=1)
        return idx.astype(np.int32), chosen / chosen.sum(axis=1, keepdims=True)


def make_router(routing: Routing, d_model: int, experts: int, top_k: int,
                rng: np.random.Generator) -> Router:
    """A seeded gate and, for zipf(s), popularity ~ rank^-s over a seeded random ranking
    of the experts (so the popular expert is not always expert 0)."""
    gate = rng.standard_normal((d_model, experts)) / math.sqrt(d_model)
    bias = np.zeros(experts)
    if routing.zipf_s > 0:
        rank = rng.permutation(experts) + 1
        bias = -routing.zipf_s * np.log(rank)
    return Router(gate, bias, top_k)


def capacity(capacity_factor: float, tokens: int, top_k: int, experts: int) -> int:
    """GShard expert capacity C = ceil(capacity_factor * T * k / E), at least 1."""
    return max(1, math.ceil(capacity_factor * tokens * top_k / experts))


def dropped_pairs(expert_idx: np.ndarray, capacity_per_expert: int) -> np.ndarray:
    """T x k bool: which (token, slot) assignments overflow their expert's capacity.

    Priority is slot-major, then token order (all first choices before any second choice,
    as in GShard / Switch): an assignment is kept when fewer than C assignments to the
    same expert come before it in that order.
    """
    slot_major = expert_idx.T.ravel()
    return (positions_in_expert(slot_major) >= capacity_per_expert).reshape(
        expert_idx.shape[::-1]).T


def positions_in_expert(flat_ids: np.ndarray) -> np.ndarray:
    """For each entry, how many earlier entries carry the same expert id."""
    order = np.argsort(flat_ids, kind="stable")
    sorted_ids = flat_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_ids.size]))
    pos = np.empty(flat_ids.size, dtype=np.int64)
    pos[order] = np.arange(flat_ids.size) - run_start
    return pos


def load_imbalance(expert_idx: np.ndarray, experts: int) -> float:
    """Max over mean tokens per expert (1.0 = perfectly balanced; E/k-ish = all on few)."""
    counts = np.bincount(expert_idx.ravel(), minlength=experts)
    return float(counts.max() / counts.mean())
